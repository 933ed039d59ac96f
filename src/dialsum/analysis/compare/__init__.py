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

from pathlib import Path

from dialsum.analysis.compare.jobs import ROUGE_METRICS, scan_jobs
from dialsum.analysis.compare.render import json_safe, render_boxplot, render_markdown
from dialsum.analysis.compare.stats import BOOTSTRAP_METHOD, MIN_EXAMPLES, RANDOM_SEED, analyse, holm
from dialsum.errors import DialsumError
from dialsum.tracking import atomic

OUTPUT_FILES = ("comparison.md", "comparison.json", "comparison_boxplot.html")
__all__ = ["BOOTSTRAP_METHOD", "MIN_EXAMPLES", "OUTPUT_FILES", "RANDOM_SEED", "ROUGE_METRICS", "compare", "holm"]


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
    atomic.write_json(paths[1], json_safe(result))
    atomic.write_text(paths[2], render_boxplot(scan.jobs, result))
    return paths
