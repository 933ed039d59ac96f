"""The same point is never trained twice at once, and a finished point is not trained again.

TPE re-proposes points of discrete spaces, and parallel sweepers can ask the same point at the same moment.
A proposal equal to a COMPLETE trial of the same experiment (same fingerprint) reuses its result. One equal
to a trial another worker (here or on another machine) is training right now waits for it, then reuses its
result; if that trial ends without one (pruned, failed, its sweeper died), the waiter decides again (another
trainer of the point may be running by then, e.g. the re-queued copy) or trains the point itself. Decisions
are made with the study lock held, so two waiters never both start training; waiters are marked
(`waiting_for`) and never waited on, so two of them cannot wait for each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import optuna

TrialState = optuna.trial.TrialState
WAITING_ATTR = "waiting_for"
DUPLICATE_ATTR = "duplicate_of"  # a reused trial: the number of the trial that trained its point


@dataclass(frozen=True)
class Decision:
    """What to do with a proposal: reuse `source`'s values, wait for `source`, or train (source None)."""

    action: str  # "reuse" | "wait" | "train"
    source: optuna.trial.FrozenTrial | None = None


def _same_experiment(t: optuna.trial.FrozenTrial, fp_hash: str, forced: bool) -> bool:
    """Trials of a pre-fingerprint study count as the same unless the resume was forced."""
    return t.user_attrs.get("fingerprint", None if forced else fp_hash) == fp_hash


def decide(study: optuna.Study, trial: optuna.Trial, fp_hash: str, forced: bool) -> Decision:
    """Reuse a COMPLETE twin, else wait for a training RUNNING twin, else train (study lock held)."""
    params = trial.params
    running = None
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)):
        if t.number == trial.number or t.params != params or not _same_experiment(t, fp_hash, forced):
            continue
        if t.state == TrialState.COMPLETE:
            return Decision("reuse", t)
        if t.user_attrs.get(WAITING_ATTR) is None and running is None:
            running = t
    if running is not None:
        return Decision("wait", running)
    return Decision("train")


def mark(study: optuna.Study, trial: optuna.Trial, decision: Decision) -> None:
    """Record whom the trial waits for (None: it trains), so other sweepers see it before the lock is freed."""
    source = decision.source.number if decision.action == "wait" and decision.source else None
    if source is not None or trial.user_attrs.get(WAITING_ATTR) is not None:
        study._storage.set_trial_user_attr(trial._trial_id, WAITING_ATTR, source)


def trial_state(study: optuna.Study, number: int) -> TrialState:
    """The current state of trial `number` (read from the storage)."""
    study_id = study._study_id
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study_id, number)
    return study._storage.get_trial(trial_id).state
