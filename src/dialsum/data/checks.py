"""Dataset-level warnings a careful user wants before spending GPU hours: duplicates, leakage, tiny val."""
from __future__ import annotations

import logging

import pandas as pd

log = logging.getLogger(__name__)


def report_duplicates(frame: pd.DataFrame, split: str) -> int:
    """Duplicate fnames make submissions and per-example statistics ambiguous."""
    dup = int(frame["fname"].duplicated().sum())
    if dup:
        log.warning("%s: %d duplicate fname value(s), e.g. %s", split, dup,
                    frame.loc[frame["fname"].duplicated(), "fname"].iloc[0])
    return dup


def report_leakage(train: pd.DataFrame, val: pd.DataFrame) -> int:
    """A dialogue in both train and validation inflates validation ROUGE."""
    shared = set(train["dialogue"].str.strip()) & set(val["dialogue"].str.strip())
    if shared:
        log.warning("leakage: %d dialogue(s) appear in both train and validation", len(shared))
    return len(shared)


def warn_small_validation(n_train: int, n_val: int, min_rows: int, min_fraction: float) -> bool:
    """Hyperparameters chosen on a tiny validation set overfit the choice (a lesson users paid for)."""
    total = n_train + n_val
    small = n_val < min_rows and n_val < min_fraction * total
    if small:
        log.warning(
            "validation set has %d rows (< %d rows and < %.0f%% of the data): hyperparameter "
            "choices made on it will be noisy. Use a larger validation split if you can.",
            n_val, min_rows, 100 * min_fraction,
        )
    return small
