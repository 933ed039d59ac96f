"""The report's next steps: rules a reviewer would apply to the numbers (no statistics of our own)."""
from __future__ import annotations

import math
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial

from dialsum.analysis.report.facts import Facts, gain
from dialsum.analysis.report.text import fmt, short
from dialsum.analysis.study_io import app_of, job_dir, job_hydra_file
from dialsum.config_schema import BOUNDS

EDGE_FRACTION = 0.1            # best value within 10% of a range end (log scale if log) = "at the edge"
MIN_CHOICES_FOR_EDGE = 3       # a two-value choice is always "at an edge": not worth a suggestion
FEW_TRIALS = 10                # below this many completed trials, importances and the best are rough
HIGH_FAIL_RATE = 0.2
HIGH_PRUNE_RATE = 0.7
LOW_IMPORTANCE = 0.05          # a param below this share of importance barely matters
FLAT_GAIN_RELATIVE = 0.01      # best within 1% of the median: differences are likely noise
MIN_VAL_ROWS = 500             # team lesson: choosing hyperparameters on fewer validation rows overfits the choice


def suggest(facts: Facts) -> list[str]:
    """Next steps a reviewer would write after reading the numbers (rules, no statistics of our own)."""
    n_done = facts.counts["COMPLETE"] + facts.counts["PRUNED"] + facts.counts["FAIL"]
    out: list[str] = []
    if facts.running:
        out.append("The sweep is still running: rerun `dialsum report` when it has finished for final numbers.")
    stopped = str((facts.sweep.summary or {}).get("stopped") or "")
    if stopped.startswith("stopped by SIG"):
        out.append("The sweep was stopped before its end: rerun the same command to finish it (the study resumes; "
                   "trials cut off by the stop run again).")
    if not facts.ranked and stopped.startswith("stopped by SIG"):
        return out
    if not facts.ranked:
        first = facts.failures[0].user_attrs.get("error") if facts.failures else None
        out.append("No trial completed: fix the first error" + (f" (`{short(first)}`)" if first else "") +
                   ", try it alone with `python train.py debug=fast ...`, then rerun the sweep command "
                   "(the study resumes).")
        return out
    g = gain(facts)
    if facts.leader and not (g and len(facts.ranked) > 1 and g["best"] == g["worst"]):  # a tie has no edge
        out += edge_suggestions(facts.leader, facts.ranked)
    if facts.counts["FAIL"] and facts.counts["FAIL"] / max(1, n_done) >= HIGH_FAIL_RATE:
        out.append(f"{facts.counts['FAIL']} of {n_done} finished trials failed: read their errors (Failures) before "
                   f"spending more trials{failure_hint(facts.failures)}.")
    if facts.counts["PRUNED"] / max(1, n_done) >= HIGH_PRUNE_RATE:
        out.append("Most trials were pruned: the pruner may stop trials too early; raise "
                   "hydra.sweeper.pruner.min_resource or evaluate more often.")
    if len(facts.ranked) < FEW_TRIALS:
        out.append(f"Only {len(facts.ranked)} completed trial(s): importances and the best are rough; resume the "
                   "study with a larger hydra.sweeper.n_trials (rerun the same command).")
    elif facts.importances:
        low = [p for p, v in facts.importances.items() if v < LOW_IMPORTANCE]
        if low:
            out.append(f"{', '.join(low)} barely matter(s) (importance < {LOW_IMPORTANCE}): fix them and spend "
                       "the trials on the others.")
    g = gain(facts)
    if g and len(facts.ranked) > 1 and g["best"] == g["worst"]:
        out.append(f"Every completed trial scored {fmt(g['best'])}: the runs learn nothing the metric can see "
                   "(too few steps? debug=fast only tests the plumbing); train longer before tuning.")
    elif g and len(facts.ranked) > 1 and math.isfinite(g["over_median_rel"]) and g["over_median_rel"] < FLAT_GAIN_RELATIVE:
        out.append("The top is flat (best within 1% of the median): differences may be noise.")
    if g and facts.directions[0] == "maximize" and g["best"] <= g.get("baseline", math.nan):
        out.append(f"The best trial (#{facts.leader.number}: {fmt(g['best'])}) does not beat the first-utterance "
                   f"baseline ({fmt(g['baseline'])}): no trial has learned to summarise yet; train longer (more steps) "
                   "or check the learning rate before tuning further.")
    out += validation_suggestions(facts)
    if app_of(facts.sweep)[1]:
        out.append("Confirm the best setting with several seeds before claiming a gain (`dialsum compare` over a "
                   "multirun with training.seed=42,123,456), then retrain on the full data (`dialsum export-best`).")
    else:
        out.append("Confirm the best setting with several seeds (or repeats) before claiming a gain.")
    return out


def failure_hint(failures: list[FrozenTrial]) -> str:
    """What the failures' messages point at, as a short hint ('' when they name nothing common)."""
    errors = " ".join(str(t.user_attrs.get("error") or "") for t in failures).lower()
    if "out of memory" in errors or "outofmemory" in errors:
        return " (out of memory: narrow the batch size / sequence length range)"
    if any(f"became {bad}" in errors for bad in ("nan", "inf", "-inf")):
        return " (training diverged: narrow the learning rate range downwards)"
    return ""


def edge_suggestions(trial: FrozenTrial, ranked: list[FrozenTrial] | None = None) -> list[str]:
    """Best values at the end of their search range: the optimum may lie outside it (unless the range already
    ends where the key's values end: no warmup below 0, no gradient accumulation below 1, and unless every
    completed trial had that value: then nothing says the other end is worse)."""
    out = []
    for name, value in trial.params.items():
        dist = trial.distributions.get(name)
        if ranked and len({repr(t.params.get(name)) for t in ranked}) < 2:
            continue
        side = edge_side(dist, value)
        if side and not _at_natural_end(name, dist, side):
            out.append(f"Best {name}={fmt(value)} is at the {side} edge of its range {describe(dist)}: "
                       f"widen the range {'down' if side == 'low' else 'up'}wards.")
    return out


def edge_side(dist: Any, value: Any) -> str | None:
    """'low' / 'high' when value sits within EDGE_FRACTION of a numeric range's end."""
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        low, high = float(dist.low), float(dist.high)
        if high <= low:
            return None
        if dist.log:
            low, high, value = math.log(low), math.log(high), math.log(float(value))
        position = (float(value) - low) / (high - low)
    elif isinstance(dist, CategoricalDistribution) and len(dist.choices) >= MIN_CHOICES_FOR_EDGE and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in dist.choices):
        ordered = sorted(dist.choices)
        position = ordered.index(value) / (len(ordered) - 1) if value in ordered else 0.5
    else:
        return None
    if position <= EDGE_FRACTION:
        return "low"
    if position >= 1 - EDGE_FRACTION:
        return "high"
    return None


def _at_natural_end(name: str, dist: Any, side: str) -> bool:
    """The range's edge on that side is as far as the key's values go (config_schema.BOUNDS; another app's key:
    a range starting at 0)."""
    values = [float(c) for c in dist.choices] if isinstance(dist, CategoricalDistribution) else [dist.low, dist.high]
    edge = min(values) if side == "low" else max(values)
    if name.lstrip("+~") not in BOUNDS:
        return side == "low" and edge == 0
    low, high, _ = BOUNDS[name.lstrip("+~")]
    return edge <= low if side == "low" else high is not None and edge >= high


def validation_suggestions(facts: Facts) -> list[str]:
    """Team lesson: hyperparameters chosen on a tiny validation set overfit the choice."""
    if not facts.leader:
        return []
    config = job_hydra_file(job_dir(facts.leader, facts.sweep.sweep_dir), "config.yaml")
    cap = config.get("data", {}).get("max_val_samples") if config is not None else None
    if isinstance(cap, int) and cap < MIN_VAL_ROWS:
        return [f"The sweep scored trials on at most {cap} validation examples (data.max_val_samples): "
                f"below {MIN_VAL_ROWS} the choice overfits; re-check the top few on the full validation set."]
    return []


def describe(dist: Any) -> str:
    """A distribution in the sweep syntax users wrote."""
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        text = f"interval({fmt(dist.low)}, {fmt(dist.high)})"
        text = f"int({text})" if isinstance(dist, IntDistribution) else text
        return f"tag(log, {text})" if dist.log else text
    if isinstance(dist, CategoricalDistribution):
        return "choice(" + ", ".join(fmt(c) for c in dist.choices) + ")"
    return str(dist)
