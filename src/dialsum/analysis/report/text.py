"""Short texts shared by the HTML and the markdown report: numbers, states, the best trial."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial

from dialsum.analysis.report.facts import STATE_ORDER, Facts
from dialsum.sweep.retries import INTERRUPTED_LABEL

FLOAT_DIGITS = 4
ERROR_CHARS = 300              # error messages are cut to this length in the tables


def best_label(facts: Facts) -> str:
    """`best`, or `Pareto-optimal` when several objectives trade off."""
    return "Pareto-optimal" if facts.multi else "best"


def status_line(facts: Facts) -> str:
    """finished / running (and why we think so)."""
    if facts.counts["RUNNING"]:
        return f"running ({facts.counts['RUNNING']} trial(s) in progress)"
    if facts.sweep.summary is None:
        return "running or interrupted (no sweep_summary.json yet)"
    stopped = facts.sweep.summary.get("stopped")
    waiting = f", {facts.counts['WAITING']} trial(s) still queued" if facts.counts["WAITING"] else ""
    return f"stopped ({stopped}{waiting})" if stopped else "finished"


def counts_line(counts: dict[str, int]) -> str:
    """`7 total: 4 complete, 2 pruned, 1 failed, 0 running`."""
    total = sum(counts.values())
    named = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "REQUEUED": INTERRUPTED_LABEL,
             "RUNNING": "running", "WAITING": "waiting"}
    parts = [f"{counts.get(s, 0)} {named[s]}" for s in STATE_ORDER if counts.get(s) or s in ("COMPLETE", "PRUNED", "FAIL")]
    return f"{total} total: " + ", ".join(parts)


def objective_line(facts: Facts) -> str:
    """`eval/rouge_combined_f1 (maximize)` per objective."""
    return ", ".join(f"{n} ({d})" for n, d in zip(facts.names, facts.directions))


def gain_line(g: dict[str, float], multi: bool = False) -> str:
    """Gain of the best over the median and the worst completed trial."""
    def rel(x: float) -> str:
        return f" ({x:+.1%})" if math.isfinite(x) else ""
    which = " (first objective)" if multi else ""
    base = g.get("baseline", math.nan)
    baseline = (f"; the first-utterance baseline scores {base:.{FLOAT_DIGITS}f}"
                + (f" ({g['best'] / base:.1f}x)" if base > 0 else "")) if math.isfinite(base) else ""
    return (f"Gain of the best{which} over the median completed trial: {g['over_median']:+.{FLOAT_DIGITS}f}"
            f"{rel(g['over_median_rel'])}; over the worst: {g['over_worst']:+.{FLOAT_DIGITS}f}"
            f"{rel(g['over_worst_rel'])} (mean of completed: {g['mean']:.{FLOAT_DIGITS}f}){baseline}")


def named_values(facts: Facts, trial: FrozenTrial) -> str:
    """`eval/rouge_combined_f1 = 0.46` (a bare 0 after the trial number reads like a label)."""
    return ", ".join(f"{name} = {fmt(v)}" for name, v in zip(facts.names, trial.values or []))


def params_text(params: dict[str, Any]) -> str:
    """`a=1, b=2`."""
    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items())


def error_text(trial: FrozenTrial) -> str:
    """The failure's recorded message."""
    return str(trial.user_attrs.get("error") or "no error message recorded (see the job's train.log)")


def short(text: str | None) -> str:
    """One line, cut to ERROR_CHARS."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS] + "..."


def fmt(value: Any) -> str:
    """Numbers with 4 significant digits; others as is; None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{FLOAT_DIGITS}g}"
    return str(value)


def rel_folder(folder: Path | None, sweep_dir: Path) -> str:
    """A job folder relative to the sweep folder when inside it (links keep working when copied)."""
    if folder is None:
        return ""
    try:
        return str(folder.resolve().relative_to(Path(sweep_dir).resolve())) + "/"
    except ValueError:
        return str(folder)
