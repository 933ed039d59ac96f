"""Multi-seed model comparison of a multirun folder: per-model ROUGE statistics and significance tests.

`dialsum compare <multirun_dir>` reads every finished job below the folder (model from .hydra/config.yaml,
scores from metrics.json "best" and predictions.jsonl) and writes comparison.md, comparison.json and
comparison_boxplot.html. Two kinds of test, because single runs mislead (user story 2):
- over seeds: Welch's t-test on each ROUGE metric (few samples: one per seed, so little power);
- over validation examples: per-example combined ROUGE, averaged over each model's seeds, matched by fname;
  a paired bootstrap CI of the mean difference and a paired permutation test.
p-values are Holm-adjusted across model pairs; decisions use the adjusted values.
"""
from __future__ import annotations

import itertools
import json
import math
import warnings as warnings_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from scipy import stats

from dialsum.errors import DialsumError
from dialsum.tracking import atomic

ROUGE_METRICS = ("eval/rouge1_f1", "eval/rouge2_f1", "eval/rougeL_f1", "eval/rouge_combined_f1")
PRIMARY_METRIC = "eval/rouge_combined_f1"
EXAMPLE_METRIC = "rouge_combined_f1"   # per-example score in predictions.jsonl used by the paired tests
COMPLETED = "completed"
MIN_SEEDS = 3                          # fewer seeds per model: the t-test over seeds has almost no power
MIN_EXAMPLES = 500                     # lesson "too-small validation": below this, per-example tests are shaky
BOOTSTRAP_METHOD = "BCa"               # bias-corrected and accelerated; percentile is the fallback when BCa is NaN
FALLBACK_METHOD = "percentile"
CONSTANT_DIFF_TOL = 1e-12              # per-example differences this close are "the same": nothing to resample
RANDOM_SEED = 0                        # resampling is seeded: the same folder gives the same report
DIGITS = 4
OUTPUT_FILES = ("comparison.md", "comparison.json", "comparison_boxplot.html")
HYDRA_CONFIG = Path(".hydra") / "config.yaml"


@dataclass
class Job:
    """One finished run of the multirun: which model and seed, its best metrics and per-example scores."""

    path: Path
    model: str
    seed: int | None
    best: dict[str, float]
    examples: dict[str, float]   # fname -> per-example combined ROUGE of the kept model
    metric_cfg: Any = None       # cfg.metric: scores are only comparable under the same ROUGE settings


@dataclass
class Scan:
    """What a multirun folder holds: usable jobs and skipped ones (with why)."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def compare(multirun_dir: Path, alpha: float = 0.05, n_resamples: int = 10000) -> list[Path]:
    """Write comparison.md/.json/_boxplot.html into multirun_dir and return their paths."""
    multirun_dir = Path(multirun_dir)
    if not 0 < alpha < 1:
        raise DialsumError(f"--alpha={alpha} must be between 0 and 1 (e.g. 0.05).")
    if n_resamples < 1:
        raise DialsumError(f"--n-resamples={n_resamples} must be >= 1 (e.g. 10000).")
    scan = scan_jobs(multirun_dir)
    result = analyse(scan, alpha=alpha, n_resamples=n_resamples)
    result["multirun_dir"] = str(multirun_dir)
    paths = [multirun_dir / name for name in OUTPUT_FILES]
    atomic.write_text(paths[0], render_markdown(result))
    atomic.write_json(paths[1], _json_safe(result))
    atomic.write_text(paths[2], render_boxplot(scan.jobs, result))
    return paths


# --- reading the folder ----------------------------------------------------------------------------------------

def scan_jobs(multirun_dir: Path) -> Scan:
    """Every job folder (one with .hydra/config.yaml) below multirun_dir; only completed runs are used."""
    if not multirun_dir.is_dir():
        raise DialsumError(f"{multirun_dir} is not a folder; pass the multirun folder "
                           "(e.g. multirun/model_comparison_<timestamp>).")
    scan = Scan()
    job_dirs = sorted({p.parent.parent for p in multirun_dir.rglob(str(HYDRA_CONFIG))}, key=_job_sort_key)
    for job_dir in job_dirs:
        job, reason = _read_job(job_dir)
        if job is None:
            scan.skipped.append({"job": str(job_dir), "reason": reason})
        else:
            scan.jobs.append(job)
    if not scan.jobs:
        found = f"{len(job_dirs)} job folder(s), none completed" if job_dirs else "no job folders (.hydra/config.yaml)"
        raise DialsumError(f"nothing to compare in {multirun_dir}: {found}. Run e.g. "
                           "`python train.py -m experiment=model_comparison` and pass its multirun folder.")
    models = sorted({j.model for j in scan.jobs})
    if len(models) < 2:
        raise DialsumError(f"only one model ({models[0]}) has completed runs in {multirun_dir}; a comparison "
                           "needs at least two (e.g. model=kobart,t5).")
    return scan


def _job_sort_key(path: Path) -> tuple:
    """Job folders in numeric order (2 before 10)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts)


def _read_job(job_dir: Path) -> tuple[Job | None, str]:
    """A Job, or None and the reason it cannot be used."""
    metrics_path = job_dir / "metrics.json"
    if not metrics_path.is_file():
        return None, "no metrics.json (failed or still running)"
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        cfg = OmegaConf.load(job_dir / HYDRA_CONFIG)
    except (OSError, ValueError) as err:
        return None, f"unreadable: {err}"
    state = metrics.get("state")
    if state != COMPLETED:
        return None, f"state {state!r}"
    best = {k: float(v) for k, v in (metrics.get("best") or {}).items() if k in ROUGE_METRICS and v is not None}
    if PRIMARY_METRIC not in best:
        return None, f"metrics.json has no best {PRIMARY_METRIC}"
    model = OmegaConf.select(cfg, "model.name", default=None) or metrics.get("model")
    seed = OmegaConf.select(cfg, "training.seed", default=None)
    metric_cfg = OmegaConf.to_container(cfg.metric, resolve=False) if "metric" in cfg else None
    return Job(job_dir, str(model), None if seed is None else int(seed), best,
               _read_examples(job_dir / "predictions.jsonl"), metric_cfg), ""


def _read_examples(path: Path) -> dict[str, float]:
    """fname -> per-example combined ROUGE; {} when predictions.jsonl is missing."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get(EXAMPLE_METRIC) is not None:
                out[str(row["fname"])] = float(row[EXAMPLE_METRIC])
    return out


# --- statistics ------------------------------------------------------------------------------------------------

def analyse(scan: Scan, alpha: float, n_resamples: int) -> dict[str, Any]:
    """Per-model summaries, pairwise tests (Holm-adjusted) and warnings, as plain data."""
    by_model: dict[str, list[Job]] = {}
    for job in scan.jobs:
        by_model.setdefault(job.model, []).append(job)
    warnings = _config_warnings(by_model)
    models = {name: _model_summary(jobs) for name, jobs in by_model.items()}
    ranked = sorted(models, key=lambda m: -models[m]["stats"][PRIMARY_METRIC]["mean"])
    example_means = {}
    for name in ranked:
        example_means[name], warning = _example_means(name, by_model[name])
        warnings.extend([warning] if warning else [])
    pairs = [_pair(a, b, by_model, example_means, alpha, n_resamples, warnings)
             for a, b in itertools.combinations(ranked, 2)]
    _adjust(pairs, alpha)
    return {"alpha": alpha, "n_resamples": n_resamples, "confidence_level": 1 - alpha,
            "primary_metric": PRIMARY_METRIC, "example_metric": EXAMPLE_METRIC, "ranking": ranked,
            "models": {m: models[m] for m in ranked}, "pairs": pairs, "warnings": _unique(warnings),
            "skipped": scan.skipped}


def _model_summary(jobs: list[Job]) -> dict[str, Any]:
    """Seeds, job folders and mean/std(ddof=1)/min/max/n of each ROUGE metric over the model's runs."""
    out: dict[str, Any] = {"seeds": [j.seed for j in jobs], "jobs": [str(j.path) for j in jobs], "stats": {}}
    for metric in ROUGE_METRICS:
        values = np.array([j.best[metric] for j in jobs if metric in j.best], dtype=float)
        out["stats"][metric] = describe(values)
    return out


def describe(values: np.ndarray) -> dict[str, float | int]:
    """mean, sample std (ddof=1; NaN for one value), min, max, n."""
    n = int(values.size)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if n > 1 else math.nan,
            "min": float(np.min(values)), "max": float(np.max(values)), "n": n}


def _example_means(model: str, jobs: list[Job]) -> tuple[dict[str, float], str | None]:
    """fname -> mean per-example score over the model's seeds (fnames all its seeds scored)."""
    sets = [set(j.examples) for j in jobs if j.examples]
    if not sets:
        return {}, f"{model}: no predictions.jsonl with {EXAMPLE_METRIC}; the paired tests skip it."
    common = set.intersection(*sets)
    warning = None
    if any(s != common for s in sets):
        warning = (f"{model}: its seeds were scored on different validation examples; "
                   f"only the {len(common)} examples common to all seeds are used.")
    scored = [j for j in jobs if j.examples]
    return {f: float(np.mean([j.examples[f] for j in scored])) for f in sorted(common)}, warning


def _pair(a: str, b: str, by_model: dict[str, list[Job]], example_means: dict[str, dict[str, float]],
          alpha: float, n_resamples: int, warnings: list[str]) -> dict[str, Any]:
    """Welch's t-test over seeds per ROUGE metric, and the paired example-level tests on combined ROUGE."""
    welch = {}
    for metric in ROUGE_METRICS:
        xa = np.array([j.best[metric] for j in by_model[a] if metric in j.best], dtype=float)
        xb = np.array([j.best[metric] for j in by_model[b] if metric in j.best], dtype=float)
        welch[metric] = welch_test(xa, xb)
    return {"a": a, "b": b, "welch": welch,
            "paired": paired_tests(a, b, example_means[a], example_means[b], alpha, n_resamples, warnings)}


def welch_test(xa: np.ndarray, xb: np.ndarray) -> dict[str, Any]:
    """scipy's Welch t-test (unequal variances); NaN with a note when it cannot be computed."""
    diff = float(np.mean(xa) - np.mean(xb)) if xa.size and xb.size else math.nan
    if xa.size < 2 or xb.size < 2:
        return {"mean_diff": diff, "t": math.nan, "p": math.nan, "note": "needs >= 2 seeds per model"}
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return {"mean_diff": diff, "t": math.nan, "p": math.nan, "note": "no variance across seeds"}
    res = stats.ttest_ind(xa, xb, equal_var=False)
    return {"mean_diff": diff, "t": float(res.statistic), "p": float(res.pvalue), "df": float(res.df), "note": None}


def _mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Statistic of the paired tests: mean of per-example differences (vectorized for scipy)."""
    return np.mean(x - y, axis=axis)


def paired_tests(a: str, b: str, ea: dict[str, float], eb: dict[str, float], alpha: float, n_resamples: int,
                 warnings: list[str]) -> dict[str, Any]:
    """Paired bootstrap CI (scipy.stats.bootstrap, paired=True) and permutation test on examples matched by fname."""
    out: dict[str, Any] = {"metric": EXAMPLE_METRIC, "n_examples": 0, "mean_diff": math.nan, "ci_low": math.nan,
                           "ci_high": math.nan, "ci_method": BOOTSTRAP_METHOD, "p": math.nan, "note": None}
    if not ea or not eb:
        out["note"] = "no per-example scores"
        return out
    common = sorted(set(ea) & set(eb))
    if set(ea) != set(eb):
        warnings.append(f"{a} and {b} were scored on different validation sets ({len(set(ea) - set(eb))} examples "
                        f"only in {a}, {len(set(eb) - set(ea))} only in {b}); paired tests use the "
                        f"{len(common)} examples both have, and the seed means are not directly comparable.")
    out["n_examples"] = len(common)
    if len(common) < MIN_EXAMPLES:
        warnings.append(f"the paired tests rest on only {len(common)} validation examples (< {MIN_EXAMPLES}): "
                        "differences may not carry over to other data; validate on more rows.")
    if len(common) < 2:
        out["note"] = "fewer than 2 common examples"
        return out
    xa = np.array([ea[f] for f in common])
    xb = np.array([eb[f] for f in common])
    diff = xa - xb
    out["mean_diff"] = float(np.mean(diff))
    rng = np.random.default_rng(RANDOM_SEED)
    if np.ptp(diff) <= CONSTANT_DIFF_TOL:  # the same difference on every example: nothing to resample
        out.update(ci_low=out["mean_diff"], ci_high=out["mean_diff"], ci_method="degenerate (constant difference)")
    else:
        for method in (BOOTSTRAP_METHOD, FALLBACK_METHOD):  # BCa is NaN on near-degenerate data
            with warnings_module.catch_warnings():
                warnings_module.simplefilter("ignore", stats.DegenerateDataWarning)
                boot = stats.bootstrap((xa, xb), _mean_diff, paired=True, vectorized=True, n_resamples=n_resamples,
                                       confidence_level=1 - alpha, method=method, rng=rng)
            low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
            if not (math.isnan(low) or math.isnan(high)):
                break
        out.update(ci_low=low, ci_high=high, ci_method=method)
    perm = stats.permutation_test((xa, xb), _mean_diff, permutation_type="samples", vectorized=True,
                                  n_resamples=n_resamples, alternative="two-sided", rng=rng)
    out["p"] = float(perm.pvalue)
    return out


def holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (NaN stays NaN, not counted).

    Hand-rolled because scipy.stats has no Holm correction (only false_discovery_control for BH/BY):
    sort ascending, multiply the i-th smallest by (m - i), take the running maximum, cap at 1.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    if valid.size == 0:
        return out.tolist()
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out[order] = adjusted
    return out.tolist()


def _adjust(pairs: list[dict[str, Any]], alpha: float) -> None:
    """Add Holm-adjusted p-values (across pairs, per test and metric) and the significance decision."""
    for metric in ROUGE_METRICS:
        tests = [p["welch"][metric] for p in pairs]
        for test, adj in zip(tests, holm([t["p"] for t in tests])):
            test["p_holm"] = adj
            test["significant"] = bool(adj < alpha) if not math.isnan(adj) else None
    tests = [p["paired"] for p in pairs]
    for test, adj in zip(tests, holm([t["p"] for t in tests])):
        test["p_holm"] = adj
        test["significant"] = bool(adj < alpha) if not math.isnan(adj) else None


def _config_warnings(by_model: dict[str, list[Job]]) -> list[str]:
    """Few seeds, uneven or duplicate seeds, and ROUGE settings that differ between runs."""
    out = []
    for model, jobs in sorted(by_model.items()):
        seeds = [j.seed for j in jobs]
        if len(jobs) < MIN_SEEDS:
            out.append(f"{model} has {len(jobs)} completed seed(s) (< {MIN_SEEDS}): the t-test over seeds has "
                       "little power; run more seeds (e.g. training.seed=42,123,456).")
        if len(set(seeds)) < len(seeds):
            out.append(f"{model} has several runs with the same seed {sorted(s for s in seeds if seeds.count(s) > 1)}:"
                       " they are counted as separate samples.")
    seed_sets = {m: sorted({j.seed for j in jobs}, key=str) for m, jobs in by_model.items()}
    if len({tuple(s) for s in seed_sets.values()}) > 1:
        out.append("models were run with different seeds: " +
                   "; ".join(f"{m}: {s}" for m, s in sorted(seed_sets.items())) + ".")
    metric_cfgs = {json.dumps(j.metric_cfg, sort_keys=True, default=str) for js in by_model.values() for j in js}
    if len(metric_cfgs) > 1:
        out.append("runs used different ROUGE settings (cfg.metric differs, e.g. tokenizer): their scores are "
                   "not comparable.")
    return out


def _unique(items: list[str]) -> list[str]:
    """Drop repeated warnings, keep order."""
    return list(dict.fromkeys(items))


def _json_safe(data: Any) -> Any:
    """NaN/inf -> null (JSON has no NaN)."""
    if isinstance(data, dict):
        return {k: _json_safe(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_json_safe(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


# --- rendering -------------------------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = DIGITS) -> str:
    """Number for a table cell; n/a for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _fmt_p(p: float | None) -> str:
    """p-value: 4 decimals, or < 0.0001."""
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _short(metric: str) -> str:
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
                     f"({level:.0%} CI [{_fmt(pt['ci_low'])}, {_fmt(pt['ci_high'])}], paired permutation "
                     f"p = {_fmt_p(pt['p'])}, Holm {_fmt_p(pt['p_holm'])} < α = {alpha}).")
    elif pt.get("significant") is False:
        lines.append(f"{a} vs {b}: the per-example difference ({_fmt(pt['mean_diff'])}, {level:.0%} CI "
                     f"[{_fmt(pt['ci_low'])}, {_fmt(pt['ci_high'])}]) is **not significant** at α = {alpha} "
                     f"(paired permutation p = {_fmt_p(pt['p'])}, Holm {_fmt_p(pt['p_holm'])}).")
    else:
        lines.append(f"{a} vs {b}: no paired test over examples ({pt.get('note') or 'not available'}).")
    if wt.get("significant") is None:
        lines.append(f"Over seeds (Welch): not testable ({wt.get('note')}).")
    else:
        word = "significant" if wt["significant"] else "not significant"
        lines.append(f"Over seeds (Welch t-test on {_short(PRIMARY_METRIC)}): {word} "
                     f"(p = {_fmt_p(wt['p'])}, Holm {_fmt_p(wt['p_holm'])}).")
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
            out.append(f"| {model} | {seeds} | {_short(metric)} | {_fmt(s['mean'])} | {_fmt(s['std'])} | "
                       f"{_fmt(s['min'])} | {_fmt(s['max'])} | {s['n']} |")
    out += ["", f"## Paired tests over validation examples ({EXAMPLE_METRIC}, each model averaged over its seeds)",
            "", f"| A | B | n examples | mean(A−B) | {level:.0%} CI ({BOOTSTRAP_METHOD} bootstrap) | permutation p | "
            "Holm p | verdict |", "|---|---|---|---|---|---|---|---|"]
    for p in result["pairs"]:
        t = p["paired"]
        out.append(f"| {p['a']} | {p['b']} | {t['n_examples']} | {_fmt(t['mean_diff'])} | "
                   f"[{_fmt(t['ci_low'])}, {_fmt(t['ci_high'])}] | {_fmt_p(t['p'])} | {_fmt_p(t.get('p_holm'))} | "
                   f"{_verdict(t, alpha)} |")
    out += ["", "## Welch's t-test over seeds (unequal variances)", "",
            "| A | B | metric | mean(A−B) | t | p | Holm p | verdict |", "|---|---|---|---|---|---|---|---|"]
    for p in result["pairs"]:
        for metric in ROUGE_METRICS:
            t = p["welch"][metric]
            out.append(f"| {p['a']} | {p['b']} | {_short(metric)} | {_fmt(t['mean_diff'])} | {_fmt(t['t'], 3)} | "
                       f"{_fmt_p(t['p'])} | {_fmt_p(t.get('p_holm'))} | {_verdict(t, alpha)} |")
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

    fig = make_subplots(rows=1, cols=len(ROUGE_METRICS), subplot_titles=[_short(m) for m in ROUGE_METRICS])
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
