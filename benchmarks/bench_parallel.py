"""Parallel trials: the same 8 fixed trials with n_jobs=2 must run >= 1.6x faster than with n_jobs=1 (2 cores).

Fixed trials: dialsum's Optuna sweeper, sampler grid over training.learning_rate choice(3e-4,1e-3,2e-3,3e-3)
x training.per_device_train_batch_size choice(8,16), pruner none, `experiment=sweep_demo
training.max_steps=150`, joblib launcher. Compares the wall time of the whole `train.py -m` command
with hydra.sweeper.n_jobs=1 and =2 (each in a fresh sweep folder, data cache warmed first);
ratio = wall(n_jobs=1) / wall(n_jobs=2). Also prints the sweeper's own wall_s and utilisation.

Usage: python benchmarks/bench_parallel.py [--smoke]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import SHARED_CACHE, Bench, ratio, read_json, sweep_overrides, sweep_trials

TARGET = 1.6  # speed-up of n_jobs=2 over n_jobs=1 at least this


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="2 trials of debug=fast")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--threads", type=int, default=None,
                        help="fix torch threads per trial in both runs (process scaling alone); "
                             "default: dialsum's split, 2 threads for n_jobs=1, 1 each for n_jobs=2")
    args = parser.parse_args(argv)
    if args.smoke:
        base = ["debug=fast"]
        space = ["training.learning_rate=choice(1e-3,2e-3)", "training.per_device_train_batch_size=choice(8)"]
    else:
        base = ["experiment=sweep_demo", "training.max_steps=150"]
        space = ["training.learning_rate=choice(3e-4,1e-3,2e-3,3e-3)", "training.per_device_train_batch_size=choice(8,16)"]
    if args.threads:
        base.append(f"hardware.torch_threads={args.threads}")
    n_trials = 2 if args.smoke else 8
    bench = Bench("parallel" + (f"_threads{args.threads}" if args.threads else ""), f"{n_trials} fixed trials: n_jobs=2 >= {TARGET}x faster than n_jobs=1",
                  args.smoke, args.keep)
    bench.warm_cache(args.cache_dir, base)

    out = {}
    for n_jobs in (1, 2):
        sweep_dir = bench.work / f"sweep_nj{n_jobs}"
        wall, _ = bench.train([*base, *sweep_overrides(sweep_dir, f"parallel_nj{n_jobs}", n_jobs, n_trials, "grid"),
                               *space], args.cache_dir, f"nj{n_jobs}", multirun=True)
        summary = read_json(sweep_dir / "sweep_summary.json")
        trials = sweep_trials(sweep_dir)
        distinct = len({tuple(sorted(t["params"].items())) for t in trials})
        out[n_jobs] = {"command_wall_s": round(wall, 3), "sweeper_wall_s": summary["wall_s"],
                       "utilisation": summary["worker_utilisation"], "counts": summary["counts"],
                       "distinct_params": distinct,
                       "mean_trial_s": round(sum(t["duration_s"] or 0 for t in trials) / max(1, len(trials)), 2)}
        print(f"  n_jobs={n_jobs}: {out[n_jobs]}")

    speedup = ratio(out[1]["command_wall_s"], out[2]["command_wall_s"])
    complete = all(o["counts"].get("COMPLETE", 0) == n_trials and o["distinct_params"] == n_trials for o in out.values())
    rows = [("n_jobs=1 command wall s", out[1]["command_wall_s"]), ("n_jobs=2 command wall s", out[2]["command_wall_s"]),
            ("speed-up wall(1)/wall(2)", speedup),
            ("sweeper wall_s n1 / n2", f"{out[1]['sweeper_wall_s']} / {out[2]['sweeper_wall_s']}"),
            ("mean trial s n1 / n2", f"{out[1]['mean_trial_s']} / {out[2]['mean_trial_s']}"),
            ("utilisation n1 / n2", f"{out[1]['utilisation']} / {out[2]['utilisation']}"),
            (f"all {n_trials} distinct trials COMPLETE in both", complete)]
    return bench.finish(rows, complete and (speedup or 0) >= TARGET,
                        {"n_jobs_1": out[1], "n_jobs_2": out[2], "speedup": speedup, "all_complete": complete})


if __name__ == "__main__":
    sys.exit(main())
