"""The statistics of `dialsum compare`: Welch over seeds, paired bootstrap and permutation over examples, Holm."""
from __future__ import annotations

import itertools
import json
import math
import warnings as warnings_module
from typing import Any

import numpy as np
from scipy import stats

from dialsum.analysis.compare.jobs import EXAMPLE_METRIC, PRIMARY_METRIC, ROUGE_METRICS, Job, Scan

MIN_SEEDS = 3                          # fewer seeds per model: the t-test over seeds has almost no power
MIN_EXAMPLES = 500                     # lesson "too-small validation": below this, per-example tests are shaky
BOOTSTRAP_METHOD = "BCa"               # bias-corrected and accelerated; percentile is the fallback when BCa is NaN
FALLBACK_METHOD = "percentile"
CONSTANT_DIFF_TOL = 1e-12              # per-example differences this close are "the same": nothing to resample
RANDOM_SEED = 0                        # resampling is seeded: the same folder gives the same report


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
    ea, eb = example_means[a], example_means[b]
    elsewhere = bool(ea and eb and set(ea) != set(eb))  # seed means over other data: a gap says nothing of the model
    for metric in ROUGE_METRICS:
        xa = np.array([j.best[metric] for j in by_model[a] if metric in j.best], dtype=float)
        xb = np.array([j.best[metric] for j in by_model[b] if metric in j.best], dtype=float)
        welch[metric] = welch_test(xa, xb)
        if elsewhere:
            welch[metric].update(t=math.nan, p=math.nan, note="scored on different validation sets")
    return {"a": a, "b": b, "welch": welch,
            "paired": paired_tests(a, b, example_means[a], example_means[b], alpha, n_resamples, warnings)}


def welch_test(xa: np.ndarray, xb: np.ndarray) -> dict[str, Any]:
    """scipy's Welch t-test (unequal variances); NaN with a note when it cannot be computed."""
    diff = float(np.mean(xa) - np.mean(xb)) if xa.size and xb.size else math.nan
    if xa.size < 2 or xb.size < 2:
        return {"mean_diff": diff, "t": math.nan, "p": math.nan, "note": "needs >= 2 seeds per model"}
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        return {"mean_diff": diff, "t": math.nan, "p": math.nan, "note": "no variance across seeds"}
    with warnings_module.catch_warnings():  # one model scoring the same on every seed: scipy's precision warning
        warnings_module.simplefilter("ignore", RuntimeWarning)  # is about that side's zero variance, said below
        res = stats.ttest_ind(xa, xb, equal_var=False)
    constant = np.ptp(xa) == 0 or np.ptp(xb) == 0
    return {"mean_diff": diff, "t": float(res.statistic), "p": float(res.pvalue), "df": float(res.df),
            "note": "one model scored the same on every seed" if constant else None}


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
