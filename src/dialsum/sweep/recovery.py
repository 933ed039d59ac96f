"""Trials left RUNNING by a sweeper that died (SIGKILL, lost machine): fail them, re-queue their params.

Called with the study lock held (dialsum.sweep.study_lock), at start and before every ask, so of several
sweepers exactly one flips a trial and re-queues it. RDB storages: Optuna's `fail_stale_trials` fails the
trials whose heartbeat is older than the grace period (its row lock lets only one process flip a trial, and
only that process's callback runs). Journal storages: the timestamp attribute from dialsum.sweep.liveness.
Both: a sweeper on this same kernel and pid namespace whose process is gone is recovered at once.
"""
from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import optuna

from dialsum.sweep import retries
from dialsum.sweep.liveness import last_beat, owner_is_gone_here, uses_rdb_heartbeat

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState
STALE_REASON = "heartbeat stale"


class StaleCallback:
    """Optuna's heartbeat_stale_trial_callback: re-queue the params of a trial this process just failed."""

    def __init__(self) -> None:
        self.requeued: list[int] = []

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        retries.requeue(study, trial, STALE_REASON)
        self.requeued.append(trial.number)
        log.warning("trial %d: its sweeper (%s) stopped beating for longer than the grace period: marked FAIL, "
                    "its params re-queued", trial.number, _owner(trial))


def recover(study: optuna.Study, me: dict[str, Any], grace_s: float, callback: StaleCallback) -> int:
    """Fail + re-queue every RUNNING trial whose sweeper is gone; returns how many (study lock held)."""
    before = len(callback.requeued)
    storage = study._storage
    rdb = uses_rdb_heartbeat(storage)
    if rdb:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    now = time.time()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get("sweeper") or {}
        if owner.get("run_id") == me["run_id"]:
            continue  # ours: this process beats it
        if owner_is_gone_here(owner, me):
            why = "interrupted: the sweep process was killed"
        elif rdb and "boot_id" not in owner and _started_before(t, now - grace_s):
            # No beat was ever recorded: an older dialsum's trial, or a sweeper killed between ask and its
            # first beat (its owner attrs come after that beat). Optuna's stale check never sees these.
            why = f"interrupted: RUNNING for more than {grace_s:g} s without any heartbeat"
        elif not rdb and (last_beat(t) or now) < now - grace_s:
            why = f"interrupted: no heartbeat from its sweeper for more than {grace_s:g} s"
        else:
            continue  # alive, or only its (RDB) heartbeat can tell
        if _fail(study, t, why):
            retries.requeue(study, t, "interrupted")
            callback.requeued.append(t.number)
            log.warning("trial %d was left RUNNING by a sweeper that is gone (%s; %s): marked FAIL, its params "
                        "re-queued", t.number, _owner(t), why)
    return len(callback.requeued) - before


def _started_before(trial: optuna.trial.FrozenTrial, cutoff: float) -> bool:
    """Did the trial start before `cutoff` (unix time)?"""
    return trial.datetime_start is not None and trial.datetime_start.timestamp() < cutoff


def _fail(study: optuna.Study, trial: optuna.trial.FrozenTrial, why: str) -> bool:
    """Mark interrupted and FAIL; False when its owner finished it meanwhile."""
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        storage.set_trial_user_attr(trial._trial_id, "error", why)
        return bool(storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL))
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def _owner(trial: optuna.trial.FrozenTrial) -> str:
    """`host pid N` of a trial's sweeper, for log lines."""
    owner = trial.user_attrs.get("sweeper") or {}
    return f"host {owner.get('host', '?')} pid {owner.get('pid', '?')}"
