"""What a report says about one study, computed once: counts, ranking, job metrics, importances, gain."""
from __future__ import annotations

import datetime as dt
import math
import statistics
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna

from dialsum.analysis.study_io import SweepStudy, job_metrics, objective_names
from dialsum.sweep.duplicates import DUPLICATE_ATTR
from dialsum.sweep.retries import interrupted_numbers

TrialState = optuna.trial.TrialState
FrozenTrial = optuna.trial.FrozenTrial

MIN_TRIALS_FOR_IMPORTANCE = 2  # optuna.importance needs at least two completed trials
STATE_ORDER = ("COMPLETE", "PRUNED", "FAIL", "REQUEUED", "RUNNING", "WAITING")  # REQUEUED: interrupted, queued again


@dataclass
class Facts:
    """Everything both renderings need, computed from the study and the job folders."""

    sweep: SweepStudy
    names: list[str]
    directions: list[str]
    counts: dict[str, int]
    ranked: list[FrozenTrial]                 # completed trials, best first (first objective)
    listed: list[FrozenTrial]                 # the trials table: ranked, then pruned ones by their last value
    best: list[FrozenTrial]                   # best trial, or the Pareto front
    metrics: dict[int, dict[str, Any]]        # trial number -> job metrics.json
    importances: dict[str, float] | None
    importance_note: str
    failures: list[FrozenTrial]
    running: bool
    generated: str
    suggestions: list[str] = field(default_factory=list)

    @property
    def study_name(self) -> str:
        """The study's name."""
        return self.sweep.study.study_name

    @property
    def multi(self) -> bool:
        """Several objectives."""
        return len(self.directions) > 1

    @property
    def leader(self) -> FrozenTrial | None:
        """The best trial on the first objective (the best trial when there is one objective)."""
        return self.ranked[0] if self.ranked else None


def gather(sweep: SweepStudy) -> Facts:
    """Counts, ranking, job metrics and importances for one study (suggestions are added by the caller)."""
    trials = sweep.trials()
    counts = {s: 0 for s in STATE_ORDER}
    rerun = interrupted_numbers(trials)  # cut off by Ctrl-C or a dead worker: their params queued again
    for t in trials:
        state = "REQUEUED" if t.number in rerun else t.state.name
        counts[state] = counts.get(state, 0) + 1
    directions = [d.name.lower() for d in sweep.study.directions]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: t.values[0], reverse=directions[0] == "maximize")
    pruned = sorted((t for t in trials if t.state == TrialState.PRUNED and t.values),
                    key=lambda t: t.values[0], reverse=directions[0] == "maximize")
    best = (ranked[:1] if len(directions) == 1 else list(sweep.study.best_trials)) if complete else []
    metrics = {t.number: job_metrics(t, sweep.sweep_dir) for t in trials}
    for t in trials:  # a reused duplicate trained nothing: it shows its source's evaluation
        if not metrics[t.number] and t.user_attrs.get(DUPLICATE_ATTR) in metrics:
            metrics[t.number] = metrics[t.user_attrs[DUPLICATE_ATTR]]
    importances, note = compute_importances(sweep.study, complete)
    facts = Facts(sweep=sweep, names=objective_names(sweep), directions=directions, counts=counts, ranked=ranked,
                  listed=ranked + pruned, best=best, metrics=metrics, importances=importances, importance_note=note,
                  failures=[t for t in trials if t.state == TrialState.FAIL and t.number not in rerun],
                  running=sweep.summary is None or counts["RUNNING"] > 0,
                  generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
    return facts


def first_objective(trial: FrozenTrial) -> float:
    """Target for plots and importances of a multi-objective study: the first objective."""
    return trial.values[0]


def target_for(multi: bool) -> Callable[[FrozenTrial], float] | None:
    """optuna.visualization needs an explicit target for multi-objective studies."""
    return first_objective if multi else None


def varying_params(complete: list[FrozenTrial]) -> list[str]:
    """Params that took more than one value among completed trials (the only ones importance can rank)."""
    values: dict[str, set[str]] = {}
    for t in complete:
        for name, value in t.params.items():
            values.setdefault(name, set()).add(repr(value))
    return [name for name, seen in values.items() if len(seen) > 1]


def compute_importances(study: optuna.Study, complete: list[FrozenTrial]) -> tuple[dict[str, float] | None, str]:
    """optuna.importance (its default evaluator) on the first objective, or why it cannot run."""
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None, (f"parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCE} completed trials "
                      f"(this study has {len(complete)}).")
    varied = varying_params(complete)
    if not varied:
        return None, "parameter importances need at least one parameter that varies across completed trials."
    if len({t.values[0] for t in complete}) < MIN_TRIALS_FOR_IMPORTANCE:
        return None, "parameter importances are undefined: every completed trial has the same objective value."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = optuna.importance.get_param_importances(  # a value every trial shared explains nothing
                study, params=varied, target=target_for(len(study.directions) > 1))
    except Exception as err:  # noqa: BLE001 - a report section must never stop the report
        return None, f"parameter importances could not be computed: {type(err).__name__}: {err}"
    if not result or not all(math.isfinite(v) for v in result.values()):
        return None, "parameter importances are undefined for these trials (all objectives equal?)."
    first = "" if len(study.directions) == 1 else " on the first objective"
    fixed = sorted({name for t in complete for name in t.params} - set(varied))
    same = f" Not ranked: {', '.join(fixed)} (one value in every completed trial)." if fixed else ""
    return dict(result), (f"Computed{first} by optuna.importance.get_param_importances (Optuna's default "
                          f"evaluator).{same}")


def gain(facts: Facts) -> dict[str, float] | None:
    """Best over the median and the worst completed trial (first objective; positive = better)."""
    values = [t.values[0] for t in facts.ranked if DUPLICATE_ATTR not in t.user_attrs]  # one vote per point
    if not values:
        return None
    sign = 1.0 if facts.directions[0] == "maximize" else -1.0
    best, median, worst = values[0], statistics.median(values), values[-1]
    baseline = (facts.metrics.get(facts.ranked[0].number, {}).get("baseline_first_utterance") or {}).get(facts.names[0])
    return {"best": best, "median": median, "worst": worst, "mean": statistics.fmean(values),
            "baseline": math.nan if baseline is None else float(baseline),  # the first utterance as the summary
            "over_median": sign * (best - median), "over_worst": sign * (best - worst),
            "over_median_rel": sign * (best - median) / abs(median) if median else math.nan,
            "over_worst_rel": sign * (best - worst) / abs(worst) if worst else math.nan}
