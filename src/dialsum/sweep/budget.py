"""One budget for the whole study, however many sweepers share it: trials, training steps, wall hours.

`n_trials` is the study's total: a sweeper asks only while the study's counted finished trials plus its
RUNNING trials (every sweeper's, read from the storage, not a local counter) are below it, with the study
lock held so no two sweepers take the last slot. A finished trial whose params were re-queued does not
count (its retry does). When the budget is full but other trials still run, the sweeper waits: they finish
(done) or their sweeper dies and they come back re-queued (it runs them).

`budget.steps` and `budget.hours` (optional) stop the asking too: steps are the sum over the study's trials of
the training steps each ran (user attr `global_step`: the job's bridge updates it at every evaluation, the
sweeper sets the final count from the job's metrics.json, so a pruned or running trial counts what it ran);
hours are the wall time since the study's first trial started (Optuna stores that start, so a resumed study
or a second sweeper counts from the same moment). Running trials always finish; nothing is cut short.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

import optuna

from dialsum.errors import DialsumError
from dialsum.sweep import retries
from dialsum.sweep.job_folder import read_job_metrics

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState
STEPS_ATTR = "global_step"  # trial user attr: training steps the trial's job ran (so far)


@dataclass(frozen=True)
class Limits:
    """What the study may spend: trials always; training steps and wall hours when set."""

    n_trials: int
    steps: int | None = None
    hours: float | None = None

    @classmethod
    def from_settings(cls, n_trials: int, raw: Mapping[str, Any] | None) -> "Limits":
        """hydra.sweeper.budget {steps, hours}; a non-positive value is refused with the fix."""
        raw = raw or {}
        unknown = set(raw) - {"steps", "hours"}
        if unknown:
            raise DialsumError(f"hydra.sweeper.budget has unknown key(s) {sorted(unknown)}: use steps and/or hours, "
                               "e.g. hydra.sweeper.budget.steps=20000 or hydra.sweeper.budget.hours=2.5.")
        steps, hours = raw.get("steps"), raw.get("hours")
        for key, value in (("steps", steps), ("hours", hours)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise DialsumError(f"hydra.sweeper.budget.{key}={value!r}: give a number > 0, or null for no "
                                   f"{key} budget.")
        return cls(n_trials, None if steps is None else int(steps), None if hours is None else float(hours))


@dataclass(frozen=True)
class BudgetState:
    """The study's use of its budget at one moment."""

    finished: int  # finished trials that count toward n_trials
    running: tuple[int, ...]  # numbers of RUNNING trials, every sweeper's
    steps: int = 0  # training steps run by all trials, finished and running
    started: float | None = None  # epoch seconds: the study's first trial start
    now: float = 0.0

    def spent(self, limits: Limits) -> str | None:
        """Why the step or hour budget is used up (a readable line), or None while it is not."""
        if limits.steps is not None and self.steps >= limits.steps:
            return f"step budget spent: {self.steps} of {limits.steps} training steps"
        hours = 0.0 if self.started is None else (self.now - self.started) / 3600.0
        if limits.hours is not None and hours >= limits.hours:
            return f"time budget spent: {hours:.2f} of {limits.hours:g} hours since the study's first trial"
        return None

    def has_room(self, limits: Limits) -> bool:
        """A new trial may be asked."""
        return self.finished + len(self.running) < limits.n_trials and self.spent(limits) is None

    def done(self, limits: Limits) -> bool:
        """Nothing is left to run or to wait for."""
        return self.finished >= limits.n_trials or (self.spent(limits) is not None and not self.running)


def read(study: optuna.Study) -> BudgetState:
    """Count from the storage (the truth every sweeper shares)."""
    trials = study.get_trials(deepcopy=False)
    skip = retries.requeued_numbers(trials)
    finished = sum(1 for t in trials if t.state.is_finished() and t.number not in skip)
    running = tuple(t.number for t in trials if t.state == TrialState.RUNNING)
    steps = sum(int(t.user_attrs.get(STEPS_ATTR) or 0) for t in trials)
    starts = [t.datetime_start.timestamp() for t in trials if t.datetime_start is not None]
    return BudgetState(finished, running, steps, min(starts) if starts else None, time.time())


def warn_if_uncounted(limits: Limits, dialsum_app: bool) -> None:
    """Another Hydra app's steps are only known if its job writes metrics.json with `global_step`."""
    if limits.steps is not None and not dialsum_app:
        log.warning("hydra.sweeper.budget.steps counts the `%s` each job writes to metrics.json in its output "
                    "folder; a job that writes none counts 0 steps, and only n_trials/hours stop the sweep",
                    STEPS_ATTR)


def record_steps(trial: optuna.Trial, job_dir: str | None) -> int | None:
    """Store the steps the job ran (its metrics.json `global_step`, written for completed and pruned runs)."""
    steps = read_job_metrics(job_dir).get(STEPS_ATTR)
    if isinstance(steps, int) and not isinstance(steps, bool):
        trial.set_user_attr(STEPS_ATTR, steps)
        return steps
    return None


def final_spend(study: optuna.Study, limits: Limits, first: str) -> str:
    """The budget line once the last running trial ended (`first`: the moment it ran out, kept if unreadable)."""
    try:
        return read(study).spent(limits) or first
    except Exception as err:  # noqa: BLE001 - the storage gone now must not cost the sweep its summary
        log.warning("could not re-read the budget spent (%s); the summary keeps the first reading", err)
        return first
