"""User-facing errors: the message says what is wrong and how to fix it, with no traceback."""


class DialsumError(Exception):
    """A problem with the user's input or environment (config, data, model, hardware)."""


class TrainingDiverged(Exception):
    """Training produced a NaN/inf loss; the trial is failed, the sweep goes on."""
