"""The sweep's tail: with hydra.sweeper.share_idle_cores the last trial generates on the idle worker's cores.

Same 3-point grid (`experiment=sweep_demo training.max_steps=150`, batch 16, lr choice(1e-3,2e-3,3e-3), pruner
none) through dialsum's sweeper with n_jobs=2: two trials run side by side, the third runs alone while the other
worker waits, which is the tail issue 10 asks to shorten. Both settings in this one invocation, alternated
(off, on, off, on, ...) so a load change hits both; command wall per run, median per side, ratio off/on > 1 means
sharing shortened the sweep. Each run's log line "evaluation on N torch thread(s)" is kept. Training never takes the
lent cores (their thread count would change the trained weights, see dialsum.sweep.core_share), so the gain is
bounded by the tail trial's share of time spent generating.

Usage: python benchmarks/bench_tail.py [--repeats 2] [--smoke]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from _common import SHARED_CACHE, Bench, median, ratio, sweep_overrides

N_JOBS = 2


def thread_lines(sweep_dir: Path) -> list[str]:
    """What the trials logged about their torch threads."""
    lines = []
    for log in sorted(sweep_dir.glob("[0-9]*/train.log")):
        lines += [line.split(" - ", 1)[-1].strip() for line in log.read_text(encoding="utf-8").splitlines()
                  if "lend their cores" in line]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting")
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="debug=fast with 60 steps, 1 repeat")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    base = (["debug=fast", "training.max_steps=60"] if args.smoke
            else ["experiment=sweep_demo", "training.max_steps=150"])
    space = ["training.learning_rate=choice(1e-3,2e-3,3e-3)", "training.per_device_train_batch_size=choice(16)"]
    repeats = 1 if args.smoke else args.repeats
    bench = Bench("tail", "3 trials on 2 workers: sweep wall with share_idle_cores off / on (> 1: the tail got shorter)",
                  args.smoke, args.keep)
    bench.warm_cache(args.cache_dir, base)
    walls: dict[bool, list[float]] = {False: [], True: []}
    runs = []
    for rep in range(repeats):
        for share in (False, True):
            sweep_dir = bench.work / f"share_{share}_{rep}"
            load = os.getloadavg()[0]
            wall, _ = bench.train([*base, *sweep_overrides(sweep_dir, f"tail_{share}_{rep}", N_JOBS, 3, "grid"),
                                   f"hydra.sweeper.share_idle_cores={share}", *space], args.cache_dir,
                                  f"share_{share}_{rep}", multirun=True)
            walls[share].append(wall)
            runs.append({"share": share, "wall_s": round(wall, 2), "load_before": load,
                         "threads": thread_lines(sweep_dir)})
            print(f"  share_idle_cores={share}: {wall:.2f} s {runs[-1]['threads']}")
    off, on = median(walls[False]), median(walls[True])
    rows = [("median wall s: share off / on", f"{off:.2f} / {on:.2f}"), ("ratio off/on", ratio(off, on)),
            ("runs (off, on alternated)", [(r["share"], r["wall_s"]) for r in runs]),
            ("1-min load before each run", [round(r["load_before"], 2) for r in runs])]
    return bench.finish(rows, (ratio(off, on) or 0) > 1.0, {"runs": runs, "median_off_s": off, "median_on_s": on,
                                                           "ratio_off_on": ratio(off, on)})


if __name__ == "__main__":
    sys.exit(main())
