"""One status line per finished trial, logged by the sweeper:

    [sweep] trial 5/16 COMPLETE 0.4120 | best 0.4551 (#3) | 2 running | ETA 12m

n/N counts the whole study (a resumed study's earlier trials too), best is the study's, the ETA divides the
trials still to run by this run's throughput (finished trials per wall-clock second since its first launch).
Also stores n_trials in the study's user attrs once, so `dialsum status` can show an ETA from the storage alone.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Sequence

import optuna

from dialsum.sweep.retries import counted_trials

log = logging.getLogger(__name__)
N_TRIALS_ATTR = "n_trials"  # study user attr: the latest sweep command's n_trials


def format_duration(seconds: float | None) -> str:
    """3h05m / 12m / 40s: short enough for a status line."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "n/a"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def format_values(values: Sequence[float] | None) -> str:
    """0.4120, or 0.41/512.0 for several objectives, or '-' when the trial has none."""
    if not values:
        return "-"
    return "/".join(f"{v:.4g}" if abs(v) >= 1000 else f"{v:.4f}" for v in values)


def best_text(study: optuna.Study) -> str:
    """'best 0.4551 (#3)', 'pareto 4 trials', or 'no best yet'."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return "no best yet"
    if len(study.directions) > 1:
        return f"pareto {len(study.best_trials)} trial(s)"
    best = study.best_trial
    return f"best {format_values(best.values)} (#{best.number})"


def eta_seconds(remaining: int, finished: int, elapsed_s: float) -> float | None:
    """Remaining trials at the observed rate; None before anything finished."""
    if remaining <= 0:
        return 0.0
    if finished <= 0 or elapsed_s <= 0:
        return None
    return remaining * elapsed_s / finished


def line(study: optuna.Study, record: Any, n_trials: int, in_flight: int, finished_this_run: int,
         elapsed_s: float, limits: Any = None) -> str:
    """The progress line for one finished trial (record: a TrialRecord); running trials count as to-do.

    With a step or hour budget (dialsum.sweep.budget.Limits) the line shows its use, and the ETA is the
    earliest of the trial, step and hour estimates: whichever runs out first ends the sweep."""
    done = counted_trials(study)
    eta = eta_seconds(n_trials - done, finished_this_run, elapsed_s)
    used, budget_eta = budget_use(study, limits)
    if budget_eta is not None:
        eta = budget_eta if eta is None else min(eta, budget_eta)
    return (f"[sweep] trial {done}/{n_trials} {record.state} {format_values(record.values)} (#{record.number}) | "
            f"{best_text(study)} | {in_flight} running{used} | "
            f"{'done' if done >= n_trials else 'ETA ' + format_duration(eta)}")


def budget_use(study: optuna.Study, limits: Any) -> tuple[str, float | None]:
    """(' | steps 2800/9000 | 0.4h/2h', seconds until the first of them runs out), from the storage."""
    if limits is None or (limits.steps is None and limits.hours is None):
        return "", None
    from dialsum.sweep import budget

    state = budget.read(study)
    spent_s = 0.0 if state.started is None else state.now - state.started
    parts, etas = [], []
    if limits.steps is not None:
        parts.append(f"steps {state.steps}/{limits.steps}")
        if state.steps > 0:
            etas.append(max(0.0, limits.steps - state.steps) * spent_s / state.steps)
    if limits.hours is not None:
        parts.append(f"{spent_s / 3600:.1f}h/{limits.hours:g}h")
        etas.append(max(0.0, limits.hours * 3600 - spent_s))
    return "".join(f" | {p}" for p in parts), (min(etas) if etas else None)


def log_trial(sweep: Any, study: optuna.Study, record: Any) -> None:
    """Log the line for `record` (sweep: the OptunaSweep; reads its records and n_trials).

    A progress problem (storage hiccup) never touches the sweep: it is logged at debug level and skipped."""
    try:
        with sweep.lock:
            records = list(sweep.records)
        in_flight = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))  # all sweepers
        n_trials = int(sweep.n_trials)
        started = min(r.start for r in records) if records else time.time()
        log.info("%s", line(study, record, n_trials, in_flight, len(records), time.time() - started,
                            getattr(sweep, "limits", None)))
        if study.user_attrs.get(N_TRIALS_ATTR) != n_trials:
            study.set_user_attr(N_TRIALS_ATTR, n_trials)
    except Exception as err:  # noqa: BLE001 - a status line is never worth a failed sweep
        log.debug("progress line skipped: %r", err)
