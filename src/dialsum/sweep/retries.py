"""Which failures are retried, and how re-queued trials are counted.

A failure from outside the trial (its worker process died or was OOM-killed, the executor broke, the sweep
was interrupted) says nothing about the parameters: the trial is marked FAIL and its parameters re-queued
with Optuna's `enqueue_trial`. A failure of the trial itself (exception in training, NaN loss, CUDA OOM at
that batch size) stays FAIL with its message. A trial whose number another trial names in `requeued_from`
does not count toward n_trials. Trials of a sweeper that died are recovered by dialsum.sweep.recovery
(heartbeats); the bookkeeping of re-queues is written here (Optuna's own retry callback works only inside
`study.optimize`).
"""
from __future__ import annotations

import logging
from typing import Any

import optuna

from dialsum.errors import DialsumError, bug_traceback
from dialsum.sweep.interrupt import STOP, SweepInterrupted
from dialsum.sweep.trial_job import tell

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState

# Exceptions that mean "the machinery failed", by class name (loky, concurrent.futures, submitit, dialsum).
INFRASTRUCTURE_ERRORS = ("TerminatedWorkerError", "BrokenProcessPool", "BrokenExecutor", "ShutdownExecutorError",
                         "UncompletedJobError", "SweepInterrupted", "KeyboardInterrupt")
RETRY_REASONS = ("infrastructure", "sweeper error")  # re-queue reasons that count against max_retries


def is_infrastructure(error: BaseException | None) -> bool:
    """Did the machinery fail (worker died, executor broke, interrupt) rather than the trial?"""
    return error is not None and any(c.__name__ in INFRASTRUCTURE_ERRORS for c in type(error).__mro__)


def requeued_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of trials whose parameters were queued again (they do not count toward n_trials)."""
    return {int(t.user_attrs["requeued_from"]) for t in trials if t.user_attrs.get("requeued_from") is not None}


INTERRUPTED_LABEL = "cut off (re-queued)"  # how status, summary and report name interrupted_numbers' trials: a
                                           # stop (Ctrl-C) or a lost worker (killed, out of memory), not the trial


def interrupted_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Re-queued trials that the machinery cut off (Ctrl-C, a dead worker), not ones retried after their own
    failure (retry_failed): those failed, and stay failures in the reports."""
    return {int(t.user_attrs["requeued_from"]) for t in trials if t.user_attrs.get("requeued_from") is not None
            and t.user_attrs.get("requeue_reason") in ("interrupted", *RETRY_REASONS)}


def counted_trials(study: optuna.Study) -> int:
    """Finished trials that count toward n_trials (re-queued ones are replaced by their retry)."""
    trials = study.get_trials(deepcopy=False)
    skip = requeued_numbers(trials)
    return sum(1 for t in trials if t.state.is_finished() and t.number not in skip)


def requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial | optuna.Trial, reason: str) -> None:
    """Queue the trial's parameters again, saying why; only machinery failures use up a retry (attempt + 1).
    A trial that failed before it had parameters has nothing to queue (the sampler asks anew)."""
    if not trial.params:
        return
    attempt = int(trial.user_attrs.get("attempt", 0)) + (reason in RETRY_REASONS)
    study.enqueue_trial(dict(trial.params), user_attrs={
        "requeued_from": trial.number, "requeue_reason": reason, "attempt": attempt})


def may_retry(trial: optuna.Trial, error: BaseException, max_retries: int, stopping: bool) -> bool:
    """Interrupts are always re-queued; other infrastructure failures up to max_retries times."""
    if stopping or type(error).__name__ in ("SweepInterrupted", "KeyboardInterrupt"):
        return True
    return is_infrastructure(error) and int(trial.user_attrs.get("attempt", 0)) < max_retries


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


def record_failure(study: optuna.Study, trial: optuna.Trial, record: Any, error: Any, max_retries: int) -> None:
    """FAIL with the message on the TrialRecord; an interrupt or infrastructure failure also re-queues the params."""
    stopping = STOP.is_set() or isinstance(error, SweepInterrupted)  # also a preempted job (submitit_jobs)
    if STOP.is_set() and not isinstance(error, SweepInterrupted):  # the stop killed its worker: not a crash
        error = SweepInterrupted(f"the sweep was stopped while it ran ({type(error).__name__} in its worker)")
    record.state, record.error = "FAIL", f"{type(error).__name__}: {error}"
    record.extra["input"] = isinstance(error, DialsumError)  # the trial's input, not dialsum or the machine
    trial.set_user_attr("error", record.error)
    again = may_retry(trial, error, max_retries, stopping)
    if stopping:
        trial.set_user_attr("interrupted", True)
    if again:
        record.extra["requeued"] = True
        trial.set_user_attr("infrastructure", True)
    tell(study, trial, state=TrialState.FAIL)
    if again:
        requeue(study, trial, "interrupted" if stopping else "infrastructure")
        log.warning("trial %d %s (%s): its params are re-queued", trial.number,
                    "interrupted" if stopping else "lost to an infrastructure failure", record.error)
    else:
        stack = bug_traceback(error) if isinstance(error, BaseException) else ""  # a bug: its stack too
        log.error("trial %d failed: %s (job folder %s)%s", trial.number, record.error, record.job_dir,
                  f"\n{stack}" if stack else "")
