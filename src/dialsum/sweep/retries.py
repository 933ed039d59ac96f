"""Which failures are retried, and how trials left behind by a dead sweeper are recovered.

A failure from outside the trial (its worker process died or was OOM-killed, the executor broke, the sweep
was interrupted) says nothing about the parameters: the trial is marked FAIL and its parameters re-queued
with Optuna's `enqueue_trial`. A failure of the trial itself (exception in training, NaN loss, CUDA OOM at
that batch size) stays FAIL with its message. A trial whose number another trial names in `requeued_from`
does not count toward n_trials. Optuna's own stale-trial retry needs RDB heartbeats inside
`study.optimize`, which an ask/tell driver does not use, so this bookkeeping is written here.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

import optuna

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState

# Exceptions that mean "the machinery failed", by class name (loky, concurrent.futures, submitit, dialsum).
INFRASTRUCTURE_ERRORS = ("TerminatedWorkerError", "BrokenProcessPool", "BrokenExecutor", "ShutdownExecutorError",
                         "UncompletedJobError", "SweepInterrupted", "KeyboardInterrupt")
RETRY_REASONS = ("infrastructure", "sweeper error")  # re-queue reasons that count against max_retries
START_TIME_TOLERANCE_S = 1.0  # process start times compare equal within this (float rounding in storage)


def run_identity() -> dict[str, Any]:
    """What identifies this sweeper process run: host, pid, the pid's start time and a random run id.

    The pid alone is not enough: a restarted container runs the sweeper as pid 1 with the same hostname."""
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(), "run_id": uuid.uuid4().hex,
            "started": psutil.Process().create_time()}


def owner_is_gone(owner: dict[str, Any], me: dict[str, Any]) -> bool:
    """Is the sweeper that left a trial RUNNING dead? Only decidable on its own host."""
    import psutil

    if owner.get("host") != me["host"]:
        return False  # another machine's sweeper: its trials are its business
    if owner.get("run_id") == me["run_id"]:
        return False
    pid = int(owner.get("pid", -1))
    if pid == me["pid"]:
        return True  # our pid, another run: the pid was reused (container restart)
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, ValueError):
        return True
    except psutil.Error:
        return False
    recorded = owner.get("started")
    return recorded is not None and abs(float(recorded) - started) > START_TIME_TOLERANCE_S


def is_infrastructure(error: BaseException | None) -> bool:
    """Did the machinery fail (worker died, executor broke, interrupt) rather than the trial?"""
    return error is not None and any(c.__name__ in INFRASTRUCTURE_ERRORS for c in type(error).__mro__)


def requeued_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of trials whose parameters were queued again (they do not count toward n_trials)."""
    return {int(t.user_attrs["requeued_from"]) for t in trials if t.user_attrs.get("requeued_from") is not None}


def counted_trials(study: optuna.Study) -> int:
    """Finished trials that count toward n_trials (re-queued ones are replaced by their retry)."""
    trials = study.get_trials(deepcopy=False)
    skip = requeued_numbers(trials)
    return sum(1 for t in trials if t.state.is_finished() and t.number not in skip)


def requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial | optuna.Trial, reason: str) -> None:
    """Queue the trial's parameters again, saying why; only machinery failures use up a retry (attempt + 1)."""
    attempt = int(trial.user_attrs.get("attempt", 0)) + (reason in RETRY_REASONS)
    study.enqueue_trial(dict(trial.params), user_attrs={
        "requeued_from": trial.number, "requeue_reason": reason, "attempt": attempt})


def may_retry(trial: optuna.Trial, error: BaseException, max_retries: int, stopping: bool) -> bool:
    """Interrupts are always re-queued; other infrastructure failures up to max_retries times."""
    if stopping or type(error).__name__ in ("SweepInterrupted", "KeyboardInterrupt"):
        return True
    return is_infrastructure(error) and int(trial.user_attrs.get("attempt", 0)) < max_retries


def recover_interrupted(study: optuna.Study, me: dict[str, Any], tell: Any) -> int:
    """RUNNING trials whose sweeper (on this host) is gone: mark FAIL + interrupted, re-queue their params."""
    requeued = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not owner_is_gone(t.user_attrs.get("sweeper") or {}, me):
            continue  # a live sweeper (a teammate, another machine) owns it
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study._storage.set_trial_user_attr(t._trial_id, "error", "interrupted: the sweep process was killed")
        tell(study, t.number, state=TrialState.FAIL)
        requeue(study, t, "interrupted")
        log.warning("trial %d was left RUNNING by a killed sweep: marked FAIL, its params re-queued", t.number)
        requeued += 1
    return requeued


def retry_failed(study: optuna.Study) -> int:
    """hydra.sweeper.retry_failed=true: queue every FAIL trial's params again (e.g. after fixing a bug)."""
    trials = study.get_trials(deepcopy=False)
    done = requeued_numbers(trials)
    failed = [t for t in trials if t.state == TrialState.FAIL and t.number not in done]
    for t in failed:
        requeue(study, t, "retry_failed")
    if failed:
        log.info("retry_failed: re-queued %d failed trial(s): %s", len(failed), [t.number for t in failed])
    return len(failed)
