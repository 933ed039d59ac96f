"""`dialsum report <sweep_dir>`: a self-contained report.html (Optuna plots, top-k table) and a report.md review draft.

Works on a finished sweep, a running one (no sweep_summary.json yet, RUNNING trials) and a resumed one: every
number comes from the study in the storage, the ROUGE details from each trial's job folder (metrics.json).
"""
from __future__ import annotations

from pathlib import Path

from dialsum.analysis.report.facts import gather
from dialsum.analysis.report.plots import PLOT_IDS, build_sections
from dialsum.analysis.report.render import HTML_NAME, render_html, render_markdown
from dialsum.analysis.report.suggestions import suggest
from dialsum.analysis.study_io import load_sweep
from dialsum.tracking import atomic

MD_NAME = "report.md"
__all__ = ["HTML_NAME", "MD_NAME", "PLOT_IDS", "build_report"]


def build_report(sweep_dir: Path | str, top_k: int | None = None, study_name: str | None = None,
                 out_dir: Path | str | None = None) -> list[Path]:
    """Write report.html and report.md into out_dir (default: the sweep folder; for a storage URL the folder
    of its trials' jobs, else ./<study_name>/); returns their paths."""
    facts = gather(load_sweep(sweep_dir, study_name))
    facts.suggestions = suggest(facts)
    folder = Path(out_dir) if out_dir is not None else facts.sweep.sweep_dir
    html_path, md_path = folder / HTML_NAME, folder / MD_NAME
    atomic.write_text(html_path, render_html(facts, build_sections(facts, top_k)))
    atomic.write_text(md_path, render_markdown(facts, top_k))
    return [html_path, md_path]
