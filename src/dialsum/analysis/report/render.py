"""The two renderings of one study's facts: a self-contained report.html and a report.md review draft."""
from __future__ import annotations

import html

from dialsum.analysis.report.facts import Facts, gain
from dialsum.analysis.report.plots import Section
from dialsum.analysis.report.tables import failures_html, md_table, top_rows
from dialsum.analysis.report.text import (best_label, counts_line, error_text, gain_line, named_values,
                                          objective_line, params_text, rel_folder, short, status_line)
from dialsum.analysis.study_io import app_of, job_dir, rerun_command

HTML_NAME = "report.html"
MD_MAX_ROWS = 50               # rows of the trials table in report.md (report.html lists them all)
MD_TOP_PARAMS = 5              # most important params listed in report.md
FIGURE_HEIGHT = "520px"        # a fixed height: "100%" collapses inside a plain page section

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
            rows.append((f"{best_label(facts)} trial {t.number}", f"{named_values(facts, t)} with {params_text(t.params)}"))
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


def render_markdown(facts: Facts, top_k: int | None = None) -> str:
    """A short review draft for a PR or a team note (the trials table: top_k rows, at most MD_MAX_ROWS)."""
    rows_shown = min(top_k or MD_MAX_ROWS, MD_MAX_ROWS)
    lines = [f"# Sweep review: {facts.study_name}", "",
             f"Status: {status_line(facts)}. Generated {facts.generated} from `{facts.sweep.sweep_dir}` "
             f"(storage `{facts.sweep.storage_url}`); plots in `{HTML_NAME}`.", "",
             "## Result", "", f"- Trials: {counts_line(facts.counts)}", f"- Objective: {objective_line(facts)}"]
    if facts.leader:
        for t in facts.best:
            lines.append(f"- {best_label(facts).capitalize()}: trial {t.number}, {named_values(facts, t)} with "
                         f"{params_text(t.params)}")
        g = gain(facts)
        if g:
            lines.append(f"- {gain_line(g, facts.multi)}")
    else:
        lines.append("- **No completed trial**: nothing to compare yet"
                     + ("; see the failures below." if facts.failures else "."))
    lines += ["", "## All trials, best first (pruned ones after, by their last value)", ""]
    header, rows = top_rows(facts, rows_shown)
    lines += md_table(header, rows) if rows else ["No completed trial."]
    if len(facts.listed) > rows_shown:
        where = f"not shown (--top-k {top_k})" if top_k and top_k < MD_MAX_ROWS else f"in `{HTML_NAME}`"
        lines += ["", f"{len(facts.listed) - rows_shown} more {where}."]
    lines += ["", "## Most important parameters", ""]
    if facts.importances:
        top = list(facts.importances.items())[:MD_TOP_PARAMS]
        lines += [f"{i}. {name}: {value:.3f}" for i, (name, value) in enumerate(top, start=1)]
        lines += ["", facts.importance_note]
    else:
        lines.append(facts.importance_note)
    lines += ["", f"## Failures ({len(facts.failures)})", ""]
    lines += [f"- trial {t.number}: `{short(error_text(t))}`"
              f" ({rel_folder(job_dir(t, facts.sweep.sweep_dir), facts.sweep.sweep_dir) or 'no job folder'})"
              for t in facts.failures] or ["None."]
    if facts.leader:
        script, dialsum_app = app_of(facts.sweep)
        lines += ["", "## Rerun the best trial", "", "```bash", rerun_command(facts.sweep, facts.leader),
                  "# or, as a named experiment" + (" (full data):" if dialsum_app else " in the app's conf/:"),
                  f"dialsum export-best {facts.sweep.sweep_dir} --name <name>"
                  + ("" if dialsum_app else " --conf-dir <the app's conf>")
                  + f" && python {script} {'' if dialsum_app else '+'}experiment=<name>", "```"]
    lines += ["", "## Next steps", ""] + [f"- {s}" for s in facts.suggestions]
    return "\n".join(lines) + "\n"
