"""User-facing errors: the message says what is wrong and how to fix it, with no traceback."""
import errno
import logging
import traceback

# Exit status for a user error (bad config, data, model or hardware): one message, no traceback.
USER_ERROR_EXIT = 2
# A pruned trial, a stopped sweep, an app's own sys.exit(message): no stack to show.
NO_STACK = ("TrialPruned", "SweepInterrupted", "TaskExited")
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)  # the disk, not dialsum: one message


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


def describe_failure(err: BaseException) -> str | None:
    """What the user can fix (bad input, a diverged run, the disk) in one message; None for a bug."""
    if isinstance(err, (DialsumError, TrainingDiverged)):
        return str(err)
    return disk_problem(err) if isinstance(err, Exception) else None


def disk_problem(err: Exception) -> str | None:
    """A full, read-only or forbidden disk, also when a library wraps it (safetensors: "os error 28")."""
    if isinstance(err, OSError) and err.errno in DISK_ERRORS:
        what = f"{err.filename or 'a file'}: {err.strerror}"
    elif "No space left on device" in str(err):
        what = f"a file: {str(err).splitlines()[0]}"
    else:
        return None
    return (f"could not write {what}. Free space (or fix the folder's permissions), or point hydra.run.dir / "
            "paths.cache_dir at another disk, then rerun.")


def bug_traceback(error: BaseException) -> str:
    """The stack of a failure the message alone does not explain (a bug, e.g. a KeyError in the user's task
    function); empty for what the user fixes by the message (bad input, a diverged run, a full disk)."""
    if describe_failure(error) is not None or (error.__traceback__ is None and error.__cause__ is None):
        return ""
    if any(c.__name__ in NO_STACK for c in type(error).__mro__):  # by name: optuna is not imported here
        return ""
    return "".join(traceback.format_exception(error)).rstrip()
