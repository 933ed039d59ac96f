"""Data cache: a second run's data preparation must take <= 10% of the first's.

Runs `python train.py debug=fast data.synthetic.n_train=2000 data.max_train_samples=null data.max_val_samples=null` twice with a fresh, empty DIALSUM_CACHE:
  first   generates the synthetic set, trains the scratch tokenizer, tokenizes (cache cold)
  second  reads all three from the cache
and compares data_prep_s (data + model + features) from each run's metrics.json; ratio second/first.
Then times the pieces in this process (fresh cache again, cold then warm, after a pass on a third
cache that pays the lazy imports): load_splits, models.builder.build_tokenizer,
cached_features (train + val). data_prep_s in a fresh process also contains those imports, which no
cache removes; the difference between the two views is import time.

Usage: python benchmarks/bench_cache.py [--n-train 2000] [--smoke]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _common import ROOT, Bench, read_json, ratio

TARGET = 0.10  # second / first data_prep_s at most this


def pieces(overrides: list[str], cache: Path) -> dict[str, float]:
    """Seconds of each data-preparation step, as dialsum.engine.run.train runs them."""
    from hydra import compose, initialize_config_dir

    from dialsum.data.features import FeatureSpec, cached_features
    from dialsum.data.splits import load_splits
    from dialsum.models.builder import build_tokenizer

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, f"paths.cache_dir={cache}"])
    times = {}
    t = time.perf_counter()
    splits = load_splits(cfg.data, cache)
    times["load_splits"] = time.perf_counter() - t
    t = time.perf_counter()
    texts = list(splits.train["dialogue"]) + list(splits.train["summary"])
    tokenizer, family = build_tokenizer(cfg.model, texts, cache)
    times["tokenizer"] = time.perf_counter() - t
    spec = FeatureSpec.from_model_config(cfg.model, family.decoder_only)
    t = time.perf_counter()
    for frame in (splits.train, splits.val):
        cached_features(frame, tokenizer, spec, cache, with_labels=True)
    times["cached_features"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="200 synthetic training dialogues")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    n_train = 200 if args.smoke else args.n_train
    bench = Bench("cache", f"second run's data_prep_s <= {TARGET:.0%} of the first's (fresh cache)",
                  args.smoke, args.keep)
    # debug=fast keeps training to 4 steps; the sample caps are lifted so all rows are prepared
    overrides = ["debug=fast", f"data.synthetic.n_train={n_train}", "data.max_train_samples=null",
                 "data.max_val_samples=null"]
    cache = bench.work / "cache"
    cache.mkdir()

    prep = {}
    for run in ("first", "second"):
        wall, _ = bench.train([*overrides, f"hydra.run.dir={bench.work / run}"], cache, run)
        metrics = read_json(bench.work / run / "metrics.json")
        prep[run] = {"data_prep_s": metrics["data_prep_s"], "command_wall_s": round(wall, 3),
                     "train_time_s": metrics.get("train_time_s")}
        print(f"  {run}: data_prep_s {metrics['data_prep_s']:.3f} (command wall {wall:.2f} s)")

    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    print(f"in-process pieces, fresh cache {bench.work / 'cache2'}, overrides {overrides}:")
    pieces(overrides, bench.work / "cache_imports")  # pays the lazy imports (pandas, BART classes) first
    cold = pieces(overrides, bench.work / "cache2")
    warm = pieces(overrides, bench.work / "cache2")
    for key in cold:
        print(f"  {key:<24} cold {cold[key]:7.3f} s   warm {warm[key]:7.3f} s   ratio {ratio(warm[key], cold[key]):.3f}")

    first, second = prep["first"]["data_prep_s"], prep["second"]["data_prep_s"]
    r = ratio(second, first)
    rows = [("first run data_prep_s", first), ("second run data_prep_s", second), ("ratio second/first", r),
            ("in-process total cold s", cold["total"]), ("in-process total warm s", warm["total"]),
            ("synthetic n_train", n_train)]
    return bench.finish(rows, r is not None and r <= TARGET,
                        {"runs": prep, "ratio": r, "pieces_cold_s": cold, "pieces_warm_s": warm,
                         "overrides": overrides})


if __name__ == "__main__":
    sys.exit(main())
