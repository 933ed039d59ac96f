"""The report's figures: Optuna's plots and a per-worker Gantt chart; a failing plot becomes a note."""
from __future__ import annotations

import datetime as dt
import logging
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial

from dialsum.analysis.report.facts import Facts, target_for
from dialsum.analysis.report.tables import top_table_html

log = logging.getLogger(__name__)
PLOT_IDS = ("history", "parallel", "importance", "slice", "contour", "intermediate", "timeline", "workers", "top")
CONTOUR_PARAMS = 2


@dataclass
class Section:
    """One `<div class="plot" id=...>` of the HTML report."""

    id: str
    title: str
    figure: Any = None   # a plotly Figure, or None
    note: str = ""
    body: str = ""       # extra HTML (the top-k table)


def build_sections(facts: Facts, top_k: int | None) -> list[Section]:
    """One section per PLOT_IDS entry, each with a figure or a note saying why it is missing."""
    study, multi = facts.sweep.study, facts.multi
    target, tname = target_for(multi), facts.names[0]
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
    title = f"Top {top_k} trials" if top_k and top_k < len(facts.listed) else "All trials, best first (pruned ones after)"
    sections.append(Section("top", title, note=no_complete, body=top_table_html(facts, top_k)))
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
