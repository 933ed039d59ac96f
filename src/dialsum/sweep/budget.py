"""One trial budget for the whole study, however many sweepers share it.

`n_trials` is the study's total: a sweeper asks only while the study's counted finished trials plus its
RUNNING trials (every sweeper's, read from the storage, not a local counter) are below it, with the study
lock held so no two sweepers take the last slot. A finished trial whose params were re-queued does not
count (its retry does). When the budget is full but other trials still run, the sweeper waits: they finish
(done) or their sweeper dies and they come back re-queued (it runs them).
"""
from __future__ import annotations

from dataclasses import dataclass

import optuna

from dialsum.sweep import retries

TrialState = optuna.trial.TrialState


@dataclass(frozen=True)
class BudgetState:
    """The study's use of its budget at one moment."""

    finished: int  # finished trials that count toward n_trials
    running: tuple[int, ...]  # numbers of RUNNING trials, every sweeper's

    def has_room(self, n_trials: int) -> bool:
        """A new trial may be asked."""
        return self.finished + len(self.running) < n_trials

    def done(self, n_trials: int) -> bool:
        """Nothing is left to run or to wait for."""
        return self.finished >= n_trials


def read(study: optuna.Study) -> BudgetState:
    """Count from the storage (the truth every sweeper shares)."""
    trials = study.get_trials(deepcopy=False)
    skip = retries.requeued_numbers(trials)
    finished = sum(1 for t in trials if t.state.is_finished() and t.number not in skip)
    running = tuple(t.number for t in trials if t.state == TrialState.RUNNING)
    return BudgetState(finished, running)
