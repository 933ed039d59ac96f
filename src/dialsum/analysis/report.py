"""`dialsum report <sweep_dir>`: a self-contained report.html (Optuna plots, top-k table) and a report.md review draft.

Works on a finished sweep, a running one (no sweep_summary.json yet, RUNNING trials) and a resumed one: every
number comes from the study in the storage, the ROUGE details from each trial's job folder (metrics.json).
"""
from __future__ import annotations

import datetime as dt
import html
import logging
import math
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from dialsum.analysis.study_io import (SweepStudy, job_dir, job_hydra_file, job_metrics, load_sweep,
                                       objective_names, rerun_command)
from dialsum.engine.metric_names import EVAL_METRICS
from dialsum.tracking import atomic

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState
FrozenTrial = optuna.trial.FrozenTrial

HTML_NAME = "report.html"
MD_NAME = "report.md"
PLOT_IDS = ("history", "parallel", "importance", "slice", "contour", "intermediate", "timeline", "workers", "top")
MD_TOP_N = 5                   # rows of the top table in report.md
MD_TOP_PARAMS = 5              # most important params listed in report.md
MIN_TRIALS_FOR_IMPORTANCE = 2  # optuna.importance needs at least two completed trials
CONTOUR_PARAMS = 2
FIGURE_HEIGHT = "520px"        # a fixed height: "100%" collapses inside a plain page section
FLOAT_DIGITS = 4
EDGE_FRACTION = 0.1            # best value within 10% of a range end (log scale if log) = "at the edge"
MIN_CHOICES_FOR_EDGE = 3       # a two-value choice is always "at an edge": not worth a suggestion
FEW_TRIALS = 10                # below this many completed trials, importances and the best are rough
HIGH_FAIL_RATE = 0.2
HIGH_PRUNE_RATE = 0.7
LOW_IMPORTANCE = 0.05          # a param below this share of importance barely matters
FLAT_GAIN_RELATIVE = 0.01      # best within 1% of the median: differences are likely noise
MIN_VAL_ROWS = 500             # team lesson: choosing hyperparameters on fewer validation rows overfits the choice
ERROR_CHARS = 300              # error messages are cut to this length in the tables
STATE_ORDER = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")


# ---- facts gathered once, rendered twice (HTML and markdown) -------------------------------------------
@dataclass
class Facts:
    """Everything both renderings need, computed from the study and the job folders."""

    sweep: SweepStudy
    names: list[str]
    directions: list[str]
    counts: dict[str, int]
    ranked: list[FrozenTrial]                 # completed trials, best first (first objective)
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


@dataclass
class Section:
    """One `<div class="plot" id=...>` of the HTML report."""

    id: str
    title: str
    figure: Any = None   # a plotly Figure, or None
    note: str = ""
    body: str = ""       # extra HTML (the top-k table)


def build_report(sweep_dir: Path | str, top_k: int = 10, study_name: str | None = None,
                 out_dir: Path | str | None = None) -> list[Path]:
    """Write report.html and report.md into out_dir (default: the sweep folder; for a storage URL the folder
    of its trials' jobs, else ./<study_name>/); returns their paths."""
    facts = gather(load_sweep(sweep_dir, study_name))
    folder = Path(out_dir) if out_dir is not None else facts.sweep.sweep_dir
    html_path, md_path = folder / HTML_NAME, folder / MD_NAME
    atomic.write_text(html_path, render_html(facts, build_sections(facts, top_k)))
    atomic.write_text(md_path, render_markdown(facts))
    return [html_path, md_path]


def gather(sweep: SweepStudy) -> Facts:
    """Counts, ranking, job metrics, importances and suggestions for one study."""
    trials = sweep.trials()
    counts = {s: 0 for s in STATE_ORDER}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    directions = [d.name.lower() for d in sweep.study.directions]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: t.values[0], reverse=directions[0] == "maximize")
    best = (ranked[:1] if len(directions) == 1 else list(sweep.study.best_trials)) if complete else []
    metrics = {t.number: job_metrics(t, sweep.sweep_dir) for t in trials}
    importances, note = compute_importances(sweep.study, complete)
    facts = Facts(sweep=sweep, names=objective_names(sweep), directions=directions, counts=counts, ranked=ranked,
                  best=best, metrics=metrics, importances=importances, importance_note=note,
                  failures=[t for t in trials if t.state == TrialState.FAIL],
                  running=sweep.summary is None or counts["RUNNING"] > 0,
                  generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
    facts.suggestions = suggest(facts)
    return facts


def first_objective(trial: FrozenTrial) -> float:
    """Target for plots and importances of a multi-objective study: the first objective."""
    return trial.values[0]


def _target(multi: bool) -> Callable[[FrozenTrial], float] | None:
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
    if not varying_params(complete):
        return None, "parameter importances need at least one parameter that varies across completed trials."
    if len({t.values[0] for t in complete}) < MIN_TRIALS_FOR_IMPORTANCE:
        return None, "parameter importances are undefined: every completed trial has the same objective value."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = optuna.importance.get_param_importances(
                study, target=_target(len(study.directions) > 1))
    except Exception as err:  # noqa: BLE001 - a report section must never stop the report
        return None, f"parameter importances could not be computed: {type(err).__name__}: {err}"
    if not result or not all(math.isfinite(v) for v in result.values()):
        return None, "parameter importances are undefined for these trials (all objectives equal?)."
    first = "" if len(study.directions) == 1 else " on the first objective"
    return dict(result), f"Computed{first} by optuna.importance.get_param_importances (Optuna's default evaluator)."


def gain(facts: Facts) -> dict[str, float] | None:
    """Best over the median and the worst completed trial (first objective; positive = better)."""
    values = [t.values[0] for t in facts.ranked]
    if not values:
        return None
    sign = 1.0 if facts.directions[0] == "maximize" else -1.0
    best, median, worst = values[0], statistics.median(values), values[-1]
    return {"best": best, "median": median, "worst": worst, "mean": statistics.fmean(values),
            "over_median": sign * (best - median), "over_worst": sign * (best - worst),
            "over_median_rel": sign * (best - median) / abs(median) if median else math.nan,
            "over_worst_rel": sign * (best - worst) / abs(worst) if worst else math.nan}


# ---- suggestions -------------------------------------------------------------------------------------------
def suggest(facts: Facts) -> list[str]:
    """Next steps a reviewer would write after reading the numbers (rules, no statistics of our own)."""
    n_done = facts.counts["COMPLETE"] + facts.counts["PRUNED"] + facts.counts["FAIL"]
    out: list[str] = []
    if facts.running:
        out.append("The sweep is still running: rerun `dialsum report` when it has finished for final numbers.")
    if not facts.ranked:
        first = facts.failures[0].user_attrs.get("error") if facts.failures else None
        out.append("No trial completed: fix the first error" + (f" (`{_short(first)}`)" if first else "") +
                   ", try it alone with `python train.py debug=fast ...`, then rerun the sweep command "
                   "(the study resumes).")
        return out
    if facts.leader:
        out += edge_suggestions(facts.leader)
    if facts.counts["FAIL"] and facts.counts["FAIL"] / max(1, n_done) >= HIGH_FAIL_RATE:
        out.append(f"{facts.counts['FAIL']} of {n_done} finished trials failed: read the errors below before "
                   "spending more trials (out of memory? narrow batch size / sequence length).")
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
        out.append(f"Every completed trial scored {_fmt(g['best'])}: the runs learn nothing the metric can see "
                   "(too few steps? debug=fast only tests the plumbing); train longer before tuning.")
    elif g and len(facts.ranked) > 1 and math.isfinite(g["over_median_rel"]) and g["over_median_rel"] < FLAT_GAIN_RELATIVE:
        out.append("The top is flat (best within 1% of the median): differences may be noise.")
    out += validation_suggestions(facts)
    out.append("Confirm the best setting with several seeds before claiming a gain (`dialsum compare` over a "
               "multirun with training.seed=42,123,456), then retrain on the full data (`dialsum export-best`).")
    return out


def edge_suggestions(trial: FrozenTrial) -> list[str]:
    """Best values at the end of their search range: the optimum may lie outside it."""
    out = []
    for name, value in trial.params.items():
        dist = trial.distributions.get(name)
        side = edge_side(dist, value)
        if side:
            out.append(f"Best {name}={_fmt(value)} is at the {side} edge of its range {describe(dist)}: "
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
        text = f"interval({_fmt(dist.low)}, {_fmt(dist.high)})"
        return f"tag(log, {text})" if dist.log else text
    if isinstance(dist, CategoricalDistribution):
        return "choice(" + ", ".join(_fmt(c) for c in dist.choices) + ")"
    return str(dist)


# ---- plots ---------------------------------------------------------------------------------------------------
def build_sections(facts: Facts, top_k: int) -> list[Section]:
    """One section per PLOT_IDS entry, each with a figure or a note saying why it is missing."""
    study, multi = facts.sweep.study, facts.multi
    target, tname = _target(multi), facts.names[0]
    no_complete = "no completed trial yet." if not facts.ranked else ""
    vis = optuna.visualization
    sections = []
    if multi:
        sections.append(_plot("history", "Pareto front", no_complete,
                              lambda: vis.plot_pareto_front(study, target_names=facts.names)))
    else:
        sections.append(_plot("history", "Optimization history", no_complete,
                              lambda: vis.plot_optimization_history(study, target_name=tname)))
    sections.append(_plot("parallel", "Parallel coordinates", no_complete,
                          lambda: vis.plot_parallel_coordinate(study, target=target, target_name=tname)))
    sections.append(_plot("importance", "Parameter importances", "" if facts.importances else facts.importance_note,
                          lambda: vis.plot_param_importances(study, target=target, target_name=tname)))
    sections.append(_plot("slice", "Slice plots (objective vs each parameter)", no_complete,
                          lambda: vis.plot_slice(study, target=target, target_name=tname)))
    pair = contour_params(facts)
    sections.append(_plot("contour", "Contour of the two most important parameters" if facts.importances
                          else "Contour of two parameters",
                          no_complete or ("" if pair else "a contour needs at least two parameters."),
                          lambda: vis.plot_contour(study, params=pair, target=target, target_name=tname)))
    has_curves = any(t.intermediate_values for t in facts.sweep.trials())
    sections.append(_plot("intermediate", "Intermediate values (objective at each evaluation; pruned trials "
                          "included)", "" if has_curves else "no trial reported intermediate values.",
                          lambda: vis.plot_intermediate_values(study)))
    started = any(t.datetime_start for t in facts.sweep.trials())
    sections.append(_plot("timeline", "Timeline of trials", "" if started else "no trial has started yet.",
                          lambda: vis.plot_timeline(study)))
    sections.append(_plot("workers", "Trials per worker", "" if started else "no trial has started yet.",
                          lambda: worker_gantt(facts)))
    sections.append(Section("top", f"Top {top_k} trials", note=no_complete, body=top_table_html(facts, top_k)))
    if multi:
        sections[1].note = sections[1].note or f"colour/target: the first objective ({tname})."
    return sections


def _plot(id_: str, title: str, skip_note: str, make: Callable[[], Any]) -> Section:
    """Draw one figure unless skip_note says why not; a plotting error becomes a note, not a crash."""
    if skip_note:
        return Section(id_, title, note=skip_note)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Section(id_, title, figure=make())
    except Exception as err:  # noqa: BLE001 - one bad plot must not lose the whole report
        log.warning("report: %s plot failed: %s", id_, err)
        return Section(id_, title, note=f"could not draw this plot: {type(err).__name__}: {err}")


def contour_params(facts: Facts) -> list[str] | None:
    """The two most important params, else the first two searched; None with fewer than two."""
    names = list(facts.importances) if facts.importances else []
    for t in facts.ranked:
        names += [p for p in t.params if p not in names]
    return names[:CONTOUR_PARAMS] if len(names) >= CONTOUR_PARAMS else None


def worker_gantt(facts: Facts) -> Any:
    """Gantt chart: one row per worker (sweeper process + worker id), one bar per trial, coloured by state."""
    import pandas as pd
    import plotly.express as px

    now = dt.datetime.now()
    trials = [t for t in facts.sweep.trials() if t.datetime_start is not None]
    owners = {_owner(t) for t in trials}
    rows = [{"worker": worker_label(t, several_sweepers=len(owners) > 1), "start": t.datetime_start,
             "end": t.datetime_complete or now, "state": t.state.name, "trial": t.number,
             facts.names[0]: t.values[0] if t.values else None} for t in trials]
    frame = pd.DataFrame(rows)
    colours = {"COMPLETE": "#2ca02c", "PRUNED": "#ff7f0e", "FAIL": "#d62728", "RUNNING": "#1f77b4",
               "WAITING": "#7f7f7f"}
    fig = px.timeline(frame, x_start="start", x_end="end", y="worker", color="state", color_discrete_map=colours,
                      hover_data=["trial", facts.names[0]], text="trial")
    fig.update_yaxes(categoryorder="category ascending", title="worker")
    fig.update_layout(title="Trials per worker (idle gaps = lost worker time)")
    return fig


def _owner(trial: FrozenTrial) -> tuple[Any, Any]:
    """(host, pid) of the sweeper process that ran the trial (several people may share one study)."""
    sweeper = trial.user_attrs.get("sweeper") or {}
    return sweeper.get("host"), sweeper.get("pid")


def worker_label(trial: FrozenTrial, several_sweepers: bool) -> str:
    """`worker 0`, or `host pid 123 / worker 0` when several sweeper processes shared the study."""
    worker = trial.user_attrs.get("worker")
    label = f"worker {worker}" if worker is not None else "worker ?"
    if several_sweepers:
        host, pid = _owner(trial)
        label = f"{host} pid {pid} / {label}"
    return label


# ---- tables --------------------------------------------------------------------------------------------------
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


def top_rows(facts: Facts, k: int) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the top-k table (shared by HTML and markdown)."""
    trials = facts.ranked[:k]
    params, evals = param_columns(trials), eval_columns(facts, trials)
    pareto = {t.number for t in facts.best} if facts.multi else set()
    header = ["rank", "trial", "state", *facts.names, *params, *evals, "duration_s", "job folder"]
    if facts.multi:
        header.insert(3, "pareto")
    rows = []
    for rank, t in enumerate(trials, start=1):
        best_metrics = facts.metrics.get(t.number, {}).get("best") or {}
        folder = job_dir(t, facts.sweep.sweep_dir)
        row = [str(rank), str(t.number), t.state.name, *[_fmt(v) for v in t.values],
               *[_fmt(t.params.get(p)) for p in params], *[_fmt(best_metrics.get(m)) for m in evals],
               _fmt(duration_s(t)), _rel(folder, facts.sweep.sweep_dir)]
        if facts.multi:
            row.insert(3, "yes" if t.number in pareto else "")
        rows.append(row)
    return header, rows


def top_table_html(facts: Facts, k: int) -> str:
    """The top-k trials as an HTML table (job folders as relative links)."""
    header, rows = top_rows(facts, k)
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = [f"<td>{html.escape(c)}</td>" for c in row[:-1]]
        cells.append(f'<td><a href="{html.escape(row[-1])}">{html.escape(row[-1])}</a></td>' if row[-1] else "<td></td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="top"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def failures_html(facts: Facts) -> str:
    """Failed trials and their error messages."""
    if not facts.failures:
        return ""
    items = "".join(f"<li>trial {t.number}: <code>{html.escape(_short(_error(t)))}</code> "
                    f"({html.escape(_rel(job_dir(t, facts.sweep.sweep_dir), facts.sweep.sweep_dir) or 'no job folder')})"
                    "</li>" for t in facts.failures)
    return (f'<div class="section" id="failures"><h2>Failures ({len(facts.failures)})</h2><ul>{items}</ul></div>')


# ---- HTML -------------------------------------------------------------------------------------------------------
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0}.note{color:#a15c00}.plot{margin-top:2em}code,pre{background:#f6f6f6;padding:2px 4px}
.summary td{text-align:left}"""


def render_html(facts: Facts, sections: list[Section]) -> str:
    """One file, no network: plotly.js inlined once in <head>, each figure a div without its own copy."""
    from plotly.offline import get_plotlyjs

    parts = []
    for s in sections:
        figure = s.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"{s.id}-figure",
                                  default_height=FIGURE_HEIGHT, config={"responsive": True}) if s.figure is not None else ""
        note = f'<p class="note">{html.escape(s.note)}</p>' if s.note else ""
        parts.append(f'<div class="plot" id="{s.id}"><h2>{html.escape(s.title)}</h2>{note}{figure}{s.body}</div>')
    title = f"Sweep report: {facts.study_name}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f"<h1>{html.escape(title)}</h1>{summary_html(facts)}{''.join(parts)}{failures_html(facts)}"
            f"{suggestions_html(facts)}</body></html>\n")


def summary_html(facts: Facts) -> str:
    """Status, counts, best, and the commands to rerun / watch it."""
    rows = [("status", status_line(facts)), ("trials", counts_line(facts.counts)),
            ("objective", objective_line(facts)), ("storage", facts.sweep.storage_url),
            ("generated", facts.generated)]
    if facts.leader:
        for t in facts.best:
            rows.append((f"{best_label(facts)} trial {t.number}", f"{_values(t)} with {_params_text(t.params)}"))
        rows.append(("retrain", rerun_command(facts.sweep, facts.leader)))
    else:
        rows.append(("best", "no completed trial"))
    g = gain(facts)
    if g:
        rows.append(("gain", gain_line(g, facts.multi)))
    rows.append(("dashboard", f"dialsum dashboard {facts.sweep.sweep_dir}"))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
                   if k in ("retrain", "dashboard", "storage") else
                   f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="summary">{body}</table>'


def suggestions_html(facts: Facts) -> str:
    """Next steps, same as in report.md."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in facts.suggestions)
    return f'<div class="section" id="next-steps"><h2>Next steps</h2><ul>{items}</ul></div>'


def best_label(facts: Facts) -> str:
    """`best`, or `Pareto-optimal` when several objectives trade off."""
    return "Pareto-optimal" if facts.multi else "best"


# ---- markdown ----------------------------------------------------------------------------------------------
def render_markdown(facts: Facts) -> str:
    """A short review draft for a PR or a team note."""
    lines = [f"# Sweep review: {facts.study_name}", "",
             f"Status: {status_line(facts)}. Generated {facts.generated} from `{facts.sweep.sweep_dir}` "
             f"(storage `{facts.sweep.storage_url}`); plots in `{HTML_NAME}`.", "",
             "## Result", "", f"- Trials: {counts_line(facts.counts)}", f"- Objective: {objective_line(facts)}"]
    if facts.leader:
        for t in facts.best:
            lines.append(f"- {best_label(facts).capitalize()}: trial {t.number}, {_values(t)} with "
                         f"{_params_text(t.params)}")
        g = gain(facts)
        if g:
            lines.append(f"- {gain_line(g, facts.multi)}")
    else:
        lines.append("- **No completed trial**: nothing to compare yet; see the failures below.")
    lines += ["", f"## Top {MD_TOP_N}", ""]
    header, rows = top_rows(facts, MD_TOP_N)
    lines += _md_table(header, rows) if rows else ["No completed trial."]
    lines += ["", "## Most important parameters", ""]
    if facts.importances:
        top = list(facts.importances.items())[:MD_TOP_PARAMS]
        lines += [f"{i}. {name}: {value:.3f}" for i, (name, value) in enumerate(top, start=1)]
        lines += ["", facts.importance_note]
    else:
        lines.append(facts.importance_note)
    lines += ["", f"## Failures ({len(facts.failures)})", ""]
    lines += [f"- trial {t.number}: `{_short(_error(t))}`"
              f" ({_rel(job_dir(t, facts.sweep.sweep_dir), facts.sweep.sweep_dir) or 'no job folder'})"
              for t in facts.failures] or ["None."]
    if facts.leader:
        lines += ["", "## Rerun the best trial", "", "```bash", rerun_command(facts.sweep, facts.leader),
                  "# or, as a named experiment (full data):",
                  f"dialsum export-best {facts.sweep.sweep_dir} --name <name> && python train.py experiment=<name>",
                  "```"]
    lines += ["", "## Next steps", ""] + [f"- {s}" for s in facts.suggestions]
    return "\n".join(lines) + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub markdown table (pipes in cells escaped)."""
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")
    out = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]


# ---- small formatting helpers ------------------------------------------------------------------------------
def status_line(facts: Facts) -> str:
    """finished / running (and why we think so)."""
    if facts.counts["RUNNING"]:
        return f"running ({facts.counts['RUNNING']} trial(s) in progress)"
    if facts.sweep.summary is None:
        return "running or interrupted (no sweep_summary.json yet)"
    return "finished"


def counts_line(counts: dict[str, int]) -> str:
    """`7 total: 4 complete, 2 pruned, 1 failed, 0 running`."""
    total = sum(counts.values())
    named = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
             "WAITING": "waiting"}
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
    return (f"Gain of the best{which} over the median completed trial: {g['over_median']:+.{FLOAT_DIGITS}f}"
            f"{rel(g['over_median_rel'])}; over the worst: {g['over_worst']:+.{FLOAT_DIGITS}f}"
            f"{rel(g['over_worst_rel'])} (mean of completed: {g['mean']:.{FLOAT_DIGITS}f})")


def _values(trial: FrozenTrial) -> str:
    """Objective value(s) of a trial."""
    return ", ".join(_fmt(v) for v in trial.values or [])


def _params_text(params: dict[str, Any]) -> str:
    """`a=1, b=2`."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _error(trial: FrozenTrial) -> str:
    """The failure's recorded message."""
    return str(trial.user_attrs.get("error") or "no error message recorded (see the job's train.log)")


def _short(text: str | None) -> str:
    """One line, cut to ERROR_CHARS."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= ERROR_CHARS else line[:ERROR_CHARS] + "..."


def _fmt(value: Any) -> str:
    """Numbers with 4 significant digits; others as is; None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{FLOAT_DIGITS}g}"
    return str(value)


def _rel(folder: Path | None, sweep_dir: Path) -> str:
    """A job folder relative to the sweep folder when inside it (links keep working when copied)."""
    if folder is None:
        return ""
    try:
        return str(folder.resolve().relative_to(Path(sweep_dir).resolve())) + "/"
    except ValueError:
        return str(folder)
