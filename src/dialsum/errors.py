"""User-facing errors: the message says what is wrong and how to fix it, with no traceback."""
import logging

# Exit status for a user error (bad config, data, model or hardware): one message, no traceback.
USER_ERROR_EXIT = 2


class DialsumError(Exception):
    """A problem with the user's input or environment (config, data, model, hardware)."""


class TrainingDiverged(Exception):
    """Training produced a NaN/inf loss; the trial is failed, the sweep goes on."""


def log_to_files(logger: logging.Logger, err: BaseException | str) -> None:
    """Keep the error in the run's log file without printing it twice: the caller prints it to stderr once."""
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s", (err,), None)
    for handler in logging.getLogger().handlers + logger.handlers:
        if isinstance(handler, logging.FileHandler) and record.levelno >= handler.level:
            handler.handle(record)
