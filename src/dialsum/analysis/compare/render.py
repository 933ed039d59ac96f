"""What `dialsum compare` writes: comparison.md in words, comparison.json, and a plotly box plot."""
from __future__ import annotations

import math
from typing import Any

from dialsum.analysis.compare.jobs import EXAMPLE_METRIC, PRIMARY_METRIC, ROUGE_METRICS, Job
from dialsum.analysis.compare.stats import BOOTSTRAP_METHOD

DIGITS = 4


def json_safe(data: Any) -> Any:
    """NaN/inf -> null (JSON has no NaN)."""
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, list):
        return [json_safe(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def fmt(value: Any, digits: int = DIGITS) -> str:
    """Number for a table cell; n/a for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_p(p: float | None) -> str:
    """p-value: 4 decimals, or < 0.0001."""
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def short_metric(metric: str) -> str:
    """eval/rouge1_f1 -> rouge1_f1 (table headers)."""
    return metric.split("/", 1)[1]


def _verdict(test: dict[str, Any], alpha: float) -> str:
    """significant / not significant / not testable, from the Holm-adjusted p-value."""
    if test.get("significant") is None:
        return "not testable" + (f" ({test['note']})" if test.get("note") else "")
    return "**significant**" if test["significant"] else "not significant"


def _sentence(pair: dict[str, Any], alpha: float, level: float) -> str:
    """One plain-language line per model pair."""
    a, b = pair["a"], pair["b"]
    pt, wt = pair["paired"], pair["welch"][PRIMARY_METRIC]
    lines = []
    if pt.get("significant"):
        better, worse = (a, b) if pt["mean_diff"] > 0 else (b, a)
        lines.append(f"**{better} beats {worse}** on per-example {EXAMPLE_METRIC} by {abs(pt['mean_diff']):.4f} "
                     f"({level:.0%} CI [{fmt(pt['ci_low'])}, {fmt(pt['ci_high'])}], paired permutation "
                     f"p = {fmt_p(pt['p'])}, Holm {fmt_p(pt['p_holm'])} < α = {alpha}).")
    elif pt.get("significant") is False:
        lines.append(f"{a} vs {b}: the per-example difference ({fmt(pt['mean_diff'])}, {level:.0%} CI "
                     f"[{fmt(pt['ci_low'])}, {fmt(pt['ci_high'])}]) is **not significant** at α = {alpha} "
                     f"(paired permutation p = {fmt_p(pt['p'])}, Holm {fmt_p(pt['p_holm'])}).")
    else:
        lines.append(f"{a} vs {b}: no paired test over examples ({pt.get('note') or 'not available'}).")
    if wt.get("significant") is None:
        lines.append(f"Over seeds (Welch): not testable ({wt.get('note')}).")
    else:
        word = "significant" if wt["significant"] else "not significant"
        lines.append(f"Over seeds (Welch t-test on {short_metric(PRIMARY_METRIC)}): {word} "
                     f"(p = {fmt_p(wt['p'])}, Holm {fmt_p(wt['p_holm'])}).")
    return "- " + " ".join(lines)


def render_markdown(result: dict[str, Any]) -> str:
    """comparison.md: summary table, plain-language verdicts, test tables, warnings."""
    alpha, level = result["alpha"], result["confidence_level"]
    out = [f"# Model comparison: {', '.join(result['ranking'])}", "",
           f"Folder: `{result.get('multirun_dir', '')}`  ",
           f"Significance level α = {alpha}; p-values Holm-adjusted across {len(result['pairs'])} model pair(s); "
           f"{result['n_resamples']} bootstrap/permutation resamples.", ""]
    if result["warnings"]:
        out += ["## Warnings", ""] + [f"- ⚠ {w}" for w in result["warnings"]] + [""]
    out += ["## Verdict", ""] + [_sentence(p, alpha, level) for p in result["pairs"]] + [""]
    out += ["## ROUGE per model (best evaluation of each run, over seeds)", "",
            "| model | seeds | metric | mean | std | min | max | n |", "|---|---|---|---|---|---|---|---|"]
    for model, info in result["models"].items():
        seeds = ", ".join(str(s) for s in info["seeds"])
        for metric in ROUGE_METRICS:
            s = info["stats"][metric]
            out.append(f"| {model} | {seeds} | {short_metric(metric)} | {fmt(s['mean'])} | {fmt(s['std'])} | "
                       f"{fmt(s['min'])} | {fmt(s['max'])} | {s['n']} |")
    out += ["", f"## Paired tests over validation examples ({EXAMPLE_METRIC}, each model averaged over its seeds)",
            "", f"| A | B | n examples | mean(A−B) | {level:.0%} CI ({BOOTSTRAP_METHOD} bootstrap) | permutation p | "
            "Holm p | verdict |", "|---|---|---|---|---|---|---|---|"]
    for p in result["pairs"]:
        t = p["paired"]
        out.append(f"| {p['a']} | {p['b']} | {t['n_examples']} | {fmt(t['mean_diff'])} | "
                   f"[{fmt(t['ci_low'])}, {fmt(t['ci_high'])}] | {fmt_p(t['p'])} | {fmt_p(t.get('p_holm'))} | "
                   f"{_verdict(t, alpha)} |")
    out += ["", "## Welch's t-test over seeds (unequal variances)", "",
            "| A | B | metric | mean(A−B) | t | p | Holm p | verdict |", "|---|---|---|---|---|---|---|---|"]
    for p in result["pairs"]:
        for metric in ROUGE_METRICS:
            t = p["welch"][metric]
            out.append(f"| {p['a']} | {p['b']} | {short_metric(metric)} | {fmt(t['mean_diff'])} | {fmt(t['t'], 3)} | "
                       f"{fmt_p(t['p'])} | {fmt_p(t.get('p_holm'))} | {_verdict(t, alpha)} |")
    if result["skipped"]:
        out += ["", "## Jobs not used", ""] + [f"- `{s['job']}`: {s['reason']}" for s in result["skipped"]]
    out += ["", "Seed-level tests have one sample per seed; the paired example-level tests are the stronger evidence "
            "but say nothing about seed-to-seed variance. Verdicts use Holm-adjusted p-values; the bootstrap CIs are "
            "per pair (not adjusted), so a CI can exclude 0 while the adjusted test is not significant. "
            "Files: comparison.json (all numbers), comparison_boxplot.html.", ""]
    return "\n".join(out)


def render_boxplot(jobs: list[Job], result: dict[str, Any]) -> str:
    """Self-contained HTML (plotly.js inline): one box per model for each ROUGE metric, one point per seed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(ROUGE_METRICS), subplot_titles=[short_metric(m) for m in ROUGE_METRICS])
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
    for i, model in enumerate(result["ranking"]):
        model_jobs = [j for j in jobs if j.model == model]
        for col, metric in enumerate(ROUGE_METRICS, start=1):
            fig.add_trace(go.Box(
                y=[j.best.get(metric) for j in model_jobs], name=model, boxpoints="all", jitter=0.3,
                marker_color=palette[i % len(palette)], legendgroup=model, showlegend=col == 1,
                text=[f"seed {j.seed}" for j in model_jobs], hovertemplate="%{text}: %{y:.4f}<extra>" + model + "</extra>",
            ), row=1, col=col)
    fig.update_layout(title=f"ROUGE over seeds per model (α = {result['alpha']}; see comparison.md for tests)",
                      template="plotly_white", height=480, width=max(900, 280 * len(ROUGE_METRICS)))
    return fig.to_html(include_plotlyjs=True, full_html=True)
