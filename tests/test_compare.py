"""`dialsum compare`: statistics checked against scipy called directly on the same numbers, plus the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from scipy import stats

from conftest import run_cli
from dialsum.analysis.compare import (BOOTSTRAP_METHOD, MIN_EXAMPLES, RANDOM_SEED, ROUGE_METRICS, compare,
                                      holm)
from dialsum.errors import DialsumError

TOL = 1e-9
N_RESAMPLES = 2000            # enough for sane CIs, quick in tests
EXACT_EXAMPLES = 10           # 2**10 = 1024 <= N_RESAMPLES: scipy runs the exact permutation test
METRIC_OFFSETS = {"eval/rouge1_f1": 0.10, "eval/rouge2_f1": -0.15, "eval/rougeL_f1": 0.05, "eval/rouge_combined_f1": 0.0}


def write_job(root: Path, num: int, model: str, seed: int, combined: float, examples: dict[str, float],
              state: str = "completed", metric_tokenizer: str = "morpheme", init: str = "scratch") -> Path:
    """A job folder as train.py -m leaves it: .hydra/config.yaml, metrics.json, predictions.jsonl."""
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"model": {"name": model, "init": init}, "training": {"seed": seed},
                                     "metric": {"tokenizer": metric_tokenizer}, "paths": {"cache_dir": str(num)}}),
                   job / ".hydra" / "config.yaml")
    best = {m: combined + off for m, off in METRIC_OFFSETS.items()}
    best["eval/loss"] = 2.0
    (job / "metrics.json").write_text(json.dumps({"model": model, "state": state, "best": best,
                                                  "objective": {"value": combined}}), encoding="utf-8")
    rows = [{"fname": f, "prediction": "#Person1#은 예약합니다.", "reference": "#Person1#은 카페를 예약합니다.",
             "rouge1_f1": v, "rouge2_f1": v, "rougeL_f1": v, "rouge_combined_f1": v} for f, v in examples.items()]
    (job / "predictions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                           encoding="utf-8")
    return job


def build_multirun(root: Path, seeds: list[int], combined: dict[str, list[float]], n_examples: int,
                   shift: dict[str, float], noise_seed: int = 7) -> dict[str, dict[int, dict[str, float]]]:
    """models x seeds jobs; per-example score = base + model shift + per-seed noise. Returns the example scores."""
    rng = np.random.default_rng(noise_seed)
    fnames = [f"val_{i}" for i in range(n_examples)]
    base = rng.uniform(0.2, 0.6, n_examples)
    scores: dict[str, dict[int, dict[str, float]]] = {}
    num = 0
    for model, values in combined.items():
        scores[model] = {}
        for seed, value in zip(seeds, values):
            ex = base + shift[model] + rng.normal(0, 0.05, n_examples)
            scores[model][seed] = dict(zip(fnames, ex.tolist()))
            write_job(root, num, model, seed, value, scores[model][seed])
            num += 1
    return scores


def _seed_mean(scores: dict[int, dict[str, float]]) -> np.ndarray:
    """Per-example mean over a model's seeds, in fname order."""
    fnames = sorted(next(iter(scores.values())))
    return np.array([np.mean([s[f] for s in scores.values()]) for f in fnames])


def _load(root: Path) -> tuple[dict, str]:
    return (json.loads((root / "comparison.json").read_text(encoding="utf-8")),
            (root / "comparison.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("seeds", [[42, 123], [42, 123, 456]])
def test_stats_match_scipy(tmp_path, seeds):
    combined = {"kobart": [0.481, 0.478, 0.484][: len(seeds)], "t5": [0.469, 0.475, 0.462][: len(seeds)]}
    scores = build_multirun(tmp_path, seeds, combined, n_examples=60, shift={"kobart": 0.05, "t5": 0.0})
    paths = compare(tmp_path, alpha=0.05, n_resamples=N_RESAMPLES)
    assert [p.name for p in paths] == ["comparison.md", "comparison.json", "comparison_boxplot.html"]
    result, md = _load(tmp_path)

    assert result["ranking"] == ["kobart", "t5"]
    for model, values in combined.items():
        info = result["models"][model]
        assert info["seeds"] == seeds
        for metric, offset in METRIC_OFFSETS.items():
            x = np.array(values) + offset
            s = info["stats"][metric]
            assert s["n"] == len(seeds)
            assert s["mean"] == pytest.approx(np.mean(x), abs=TOL)
            assert s["std"] == pytest.approx(np.std(x, ddof=1), abs=TOL)
            assert s["min"] == pytest.approx(x.min(), abs=TOL) and s["max"] == pytest.approx(x.max(), abs=TOL)

    (pair,) = result["pairs"]
    assert (pair["a"], pair["b"]) == ("kobart", "t5")
    for metric, offset in METRIC_OFFSETS.items():
        expected = stats.ttest_ind(np.array(combined["kobart"]) + offset, np.array(combined["t5"]) + offset,
                                   equal_var=False)
        assert pair["welch"][metric]["p"] == pytest.approx(expected.pvalue, abs=TOL)
        assert pair["welch"][metric]["t"] == pytest.approx(expected.statistic, abs=TOL)
        assert pair["welch"][metric]["p_holm"] == pytest.approx(expected.pvalue, abs=TOL)  # one pair: no change

    xa, xb = _seed_mean(scores["kobart"]), _seed_mean(scores["t5"])
    paired = pair["paired"]
    assert paired["n_examples"] == 60
    assert paired["mean_diff"] == pytest.approx(np.mean(xa - xb), abs=TOL)
    boot = stats.bootstrap((xa, xb), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True, vectorized=True,
                           n_resamples=N_RESAMPLES, method=BOOTSTRAP_METHOD, rng=np.random.default_rng(RANDOM_SEED))
    assert paired["ci_low"] == pytest.approx(boot.confidence_interval.low, abs=TOL)
    assert paired["ci_high"] == pytest.approx(boot.confidence_interval.high, abs=TOL)
    assert paired["ci_low"] < paired["mean_diff"] < paired["ci_high"]
    assert 0 < paired["ci_low"]  # a +0.05 shift with 0.05 noise on 60 examples is clearly positive
    assert paired["p"] < 0.01 and paired["significant"] is True
    assert "**kobart beats t5**" in md

    welch_p = pair["welch"]["eval/rouge_combined_f1"]["p"]
    welch_word = "significant" if welch_p < 0.05 else "not significant"
    assert f"Over seeds (Welch t-test on rouge_combined_f1): {welch_word} (p = {welch_p:.4f}" in md
    few_seeds = "kobart has 2 completed seed(s) (< 3)"
    assert (few_seeds in md) == (len(seeds) == 2)
    assert f"only 60 validation examples (< {MIN_EXAMPLES})" in md


def test_exact_permutation_p_and_no_difference(tmp_path):
    """10 examples: scipy enumerates all 2**10 sign flips, so the p-value is exact and reproducible."""
    seeds = [1, 2, 3]
    scores = build_multirun(tmp_path, seeds, {"kobart": [0.40, 0.41, 0.42], "t5": [0.40, 0.42, 0.41]},
                            n_examples=EXACT_EXAMPLES, shift={"kobart": 0.0, "t5": 0.0}, noise_seed=3)
    compare(tmp_path, alpha=0.05, n_resamples=N_RESAMPLES)
    result, md = _load(tmp_path)
    pair = result["pairs"][0]
    xa, xb = _seed_mean(scores[pair["a"]]), _seed_mean(scores[pair["b"]])
    perm = stats.permutation_test((xa, xb), lambda x, y, axis=-1: np.mean(x - y, axis=axis),
                                  permutation_type="samples", vectorized=True, n_resamples=N_RESAMPLES)
    assert pair["paired"]["p"] == pytest.approx(perm.pvalue, abs=TOL)
    assert pair["paired"]["significant"] is False
    assert "is **not significant** at α = 0.05" in md
    assert pair["welch"]["eval/rouge_combined_f1"]["significant"] is False


def test_three_models_holm_across_pairs(tmp_path):
    seeds = [42, 123, 456]
    combined = {"kobart": [0.481, 0.478, 0.484], "t5": [0.469, 0.474, 0.464], "kogpt2": [0.453, 0.449, 0.457]}
    build_multirun(tmp_path, seeds, combined, n_examples=50, shift={"kobart": 0.04, "t5": 0.02, "kogpt2": 0.0})
    compare(tmp_path, alpha=0.05, n_resamples=N_RESAMPLES)
    result, md = _load(tmp_path)
    assert result["ranking"] == ["kobart", "t5", "kogpt2"]
    assert [(p["a"], p["b"]) for p in result["pairs"]] == [("kobart", "t5"), ("kobart", "kogpt2"), ("t5", "kogpt2")]
    raw = [p["welch"]["eval/rouge_combined_f1"]["p"] for p in result["pairs"]]
    expected = [stats.ttest_ind(combined[a], combined[b], equal_var=False).pvalue
                for a, b in [("kobart", "t5"), ("kobart", "kogpt2"), ("t5", "kogpt2")]]
    assert raw == pytest.approx(expected, abs=TOL)
    adjusted = [p["welch"]["eval/rouge_combined_f1"]["p_holm"] for p in result["pairs"]]
    assert adjusted == pytest.approx(holm(expected), abs=TOL)
    assert all(a >= r - TOL for a, r in zip(adjusted, raw))
    assert "Holm-adjusted across 3 model pair(s)" in md


def test_holm_known_values():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = holm([float("nan"), 0.02, 0.01])
    assert np.isnan(out[0]) and out[1:] == pytest.approx([0.02, 0.02])


def test_fname_mismatch_failed_jobs_and_metric_settings_are_reported(tmp_path):
    ex = {f"val_{i}": 0.3 + i / 100 for i in range(20)}
    other = {f"test_{i}": 0.3 for i in range(5)} | {f"val_{i}": 0.31 + i / 100 for i in range(15)}
    write_job(tmp_path, 0, "kobart", 42, 0.48, ex)
    write_job(tmp_path, 1, "kobart", 123, 0.47, ex)
    write_job(tmp_path, 2, "t5", 42, 0.46, other, metric_tokenizer="whitespace")
    write_job(tmp_path, 3, "t5", 123, 0.45, other)
    write_job(tmp_path, 4, "t5", 456, 0.10, other, state="failed")
    (tmp_path / "5" / ".hydra").mkdir(parents=True)
    (tmp_path / "5" / ".hydra" / "config.yaml").write_text("model: {name: t5}\n")  # crashed before metrics.json
    compare(tmp_path, n_resamples=500)
    result, md = _load(tmp_path)
    assert result["pairs"][0]["paired"]["n_examples"] == 15
    assert "kobart and t5 were scored on different validation sets (5 examples only in kobart, 5 only in t5)" in md
    assert result["pairs"][0]["welch"]["eval/rouge1_f1"]["significant"] is None  # no verdict on other data
    assert "Over seeds (Welch): not testable (scored on different validation sets)" in md
    assert "runs used different ROUGE settings" in md
    assert {s["reason"] for s in result["skipped"]} == {"state 'failed'", "no metrics.json (failed or still running)"}
    assert result["models"]["t5"]["seeds"] == [42, 123]


def test_one_model_under_two_settings_is_two_arms_not_more_seeds(tmp_path):
    """kobart scratch and kobart pretrained in one folder: pooled as 5 'seeds' of kobart, the spread was the init's."""
    examples = {f"val_{i}": 0.3 for i in range(12)}
    for num, (seed, init, value) in enumerate([(42, "pretrained", 0.40), (123, "pretrained", 0.41),
                                               (42, "scratch", 0.20), (123, "scratch", 0.21)]):
        write_job(tmp_path, num, "kobart", seed, value, examples, init=init)
    compare(tmp_path, n_resamples=N_RESAMPLES)
    result, _ = _load(tmp_path)
    assert result["ranking"] == ["kobart (model.init=pretrained)", "kobart (model.init=scratch)"]
    assert all(m["seeds"] == [42, 123] for m in result["models"].values())   # paths.* never splits a group


def test_arms_differing_beyond_the_named_settings_stay_apart_and_new_keys_split_nothing(tmp_path):
    """Labels name 3 settings; a 4th difference must not merge two arms. A key only newer runs have is no arm."""
    from dialsum.analysis.compare.jobs import Job, _name_configurations

    def job(values: dict, seed: int) -> Job:
        return Job(tmp_path, "kobart", seed, {}, {}, None, values)

    jobs = [job({"a": 1, "b": 1, "c": 1, "d": 1}, 1), job({"a": 2, "b": 2, "c": 2, "d": 1}, 1),
            job({"a": 2, "b": 2, "c": 2, "d": 2}, 1), job({"a": 2, "b": 2, "c": 2, "d": 2, "new": False}, 2)]
    _name_configurations(jobs)
    assert len({j.model for j in jobs}) == 3 and jobs[2].model == jobs[3].model


def test_identical_models_are_not_testable_not_crashing(tmp_path):
    """Tiny debug runs often score 0.0 everywhere: no variance, so nothing is testable; report still written."""
    ex = {f"val_{i}": 0.0 for i in range(8)}
    for num, (model, seed) in enumerate([("kobart", 1), ("kobart", 2), ("t5", 1), ("t5", 2)]):
        write_job(tmp_path, num, model, seed, 0.0, ex)
    compare(tmp_path, n_resamples=200)
    result, md = _load(tmp_path)
    pair = result["pairs"][0]
    assert pair["welch"]["eval/rouge_combined_f1"]["p"] is None  # NaN -> null in JSON
    assert pair["welch"]["eval/rouge_combined_f1"]["significant"] is None
    assert "not testable (no variance across seeds)" in md
    assert pair["paired"]["mean_diff"] == 0.0 and pair["paired"]["p"] == pytest.approx(1.0)
    assert pair["paired"]["significant"] is False


def test_outputs_are_readable_and_self_contained(tmp_path):
    ex = {f"대화_{i}": 0.2 + i / 50 for i in range(12)}
    for num, (model, seed, v) in enumerate([("kobart", 1, 0.4), ("kobart", 2, 0.41), ("t5", 1, 0.3), ("t5", 2, 0.33)]):
        write_job(tmp_path, num, model, seed, v, {k: x + (0.05 if model == "kobart" else 0) for k, x in ex.items()})
    compare(tmp_path, n_resamples=300)
    text = (tmp_path / "comparison.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)
    html = (tmp_path / "comparison_boxplot.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and len(html) > 1_000_000  # plotly.js inline: opens offline
    assert all(m.split("/")[1] in html for m in ROUGE_METRICS)


def test_errors(tmp_path):
    with pytest.raises(DialsumError, match="not a folder"):
        compare(tmp_path / "missing")
    with pytest.raises(DialsumError, match="no job folders"):
        compare(tmp_path)
    write_job(tmp_path, 0, "kobart", 1, 0.4, {"a": 0.4}, state="failed")
    with pytest.raises(DialsumError, match="none completed"):
        compare(tmp_path)
    write_job(tmp_path, 1, "kobart", 2, 0.4, {"a": 0.4})
    with pytest.raises(DialsumError, match="only one model"):
        compare(tmp_path)
    with pytest.raises(DialsumError, match="alpha"):
        compare(tmp_path, alpha=1.5)


def test_cli_compare_on_fake_folder(tmp_path):
    build_multirun(tmp_path / "mr", [1, 2, 3], {"kobart": [0.4, 0.41, 0.42], "t5": [0.3, 0.31, 0.29]},
                   n_examples=30, shift={"kobart": 0.03, "t5": 0.0})
    env = {**os.environ}
    proc = subprocess.run([sys.executable, "-m", "dialsum", "compare", str(tmp_path / "mr"), "--n-resamples", "500"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "mr" / n) for n in
                                   ("comparison.md", "comparison.json", "comparison_boxplot.html")]
    bad = subprocess.run([sys.executable, "-m", "dialsum", "compare", str(tmp_path / "nothing")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "dialsum: error:" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_real_model_comparison_multirun(tmp_path, cache_dir):
    """`train.py -m experiment=model_comparison` (2 models x 2 seeds, debug=fast), then `dialsum compare`."""
    sweep = tmp_path / "cmp"
    proc = run_cli(["-m", "experiment=model_comparison", "debug=fast", "model=kobart,t5", "training.seed=1,2",
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path, cache_dir=cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(sweep.glob("*/metrics.json"))) == 4
    out = subprocess.run([sys.executable, "-m", "dialsum", "compare", str(sweep), "--n-resamples", "500"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("comparison.md", "comparison.json", "comparison_boxplot.html"):
        assert (sweep / name).is_file()
    result = json.loads((sweep / "comparison.json").read_text(encoding="utf-8"))
    assert sorted(result["models"]) == ["kobart", "t5"]
    assert all(info["seeds"] == [1, 2] for info in result["models"].values())
