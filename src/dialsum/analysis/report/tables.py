"""The trials table (best first) and the failures (rows shared by HTML and markdown)."""
from __future__ import annotations

import html

from optuna.trial import FrozenTrial

from dialsum.analysis.report.facts import Facts
from dialsum.analysis.report.text import error_text, fmt, rel_folder, short
from dialsum.analysis.study_io import job_dir
from dialsum.engine.metric_names import EVAL_METRICS
from dialsum.sweep.duplicates import DUPLICATE_ATTR


def eval_columns(facts: Facts, trials: list[FrozenTrial]) -> list[str]:
    """dialsum's eval/* metrics (ROUGE, loss, length, repetition) present in these trials' metrics.json; Trainer's
    eval/runtime-like keys are left out."""
    present = {k for t in trials for k in (facts.metrics.get(t.number, {}).get("best") or {})}
    return [m for m in EVAL_METRICS if m in present and m not in facts.names]


def param_columns(trials: list[FrozenTrial]) -> list[str]:
    """Union of the params of these trials, in first-seen order."""
    names: list[str] = []
    for t in trials:
        names += [p for p in t.params if p not in names]
    return names


def duration_s(trial: FrozenTrial) -> float | None:
    """Wall time of a trial: the sweeper's record, else from the storage's timestamps."""
    if trial.user_attrs.get("duration_s") is not None:
        return float(trial.user_attrs["duration_s"])
    if trial.datetime_start and trial.datetime_complete:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return None


def top_rows(facts: Facts, k: int | None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the trials table, the first k or all (shared by HTML and markdown)."""
    trials = facts.listed[:k]
    params, evals = param_columns(trials), eval_columns(facts, trials)
    pareto = {t.number for t in facts.best} if facts.multi else set()
    header = ["rank", "trial", "state", *facts.names, *params, *evals, "duration_s", "job folder"]
    if facts.multi:
        header.insert(3, "pareto")
    rows = []
    for rank, t in enumerate(trials, start=1):
        best_metrics = facts.metrics.get(t.number, {}).get("best") or {}
        folder = job_dir(t, facts.sweep.sweep_dir)
        source = t.user_attrs.get(DUPLICATE_ATTR)
        where = rel_folder(folder, facts.sweep.sweep_dir) if source is None else f"(duplicate of trial {source})"
        row = [str(rank), str(t.number), t.state.name, *[fmt(v) for v in t.values],
               *[fmt(t.params.get(p)) for p in params], *[fmt(best_metrics.get(m)) for m in evals],
               fmt(duration_s(t)), where]
        if facts.multi:
            row.insert(3, "yes" if t.number in pareto else "")
        rows.append(row)
    return header, rows


def top_table_html(facts: Facts, k: int | None) -> str:
    """The trials as an HTML table (job folders as relative links)."""
    header, rows = top_rows(facts, k)
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = [f"<td>{html.escape(c)}</td>" for c in row[:-1]]
        cells.append(f'<td><a href="{html.escape(row[-1])}">{html.escape(row[-1])}</a></td>'
                     if row[-1] and not row[-1].startswith("(") else f"<td>{html.escape(row[-1])}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="top"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def failures_html(facts: Facts) -> str:
    """Failed trials and their error messages."""
    if not facts.failures:
        return ""
    items = "".join(f"<li>trial {t.number}: <code>{html.escape(short(error_text(t)))}</code> "
                    f"({html.escape(rel_folder(job_dir(t, facts.sweep.sweep_dir), facts.sweep.sweep_dir) or 'no job folder')})"
                    "</li>" for t in facts.failures)
    return (f'<div class="section" id="failures"><h2>Failures ({len(facts.failures)})</h2><ul>{items}</ul></div>')


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub markdown table (pipes in cells escaped)."""
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")
    out = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
