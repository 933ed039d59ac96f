"""Sweep efficiency: TPE + Hyperband finds the exhaustive grid's best (within 0.01) for <= 40% of its steps.

Same search space for both, `experiment=sweep_demo` trials (300 steps, 6 evaluations), n_jobs=2:
  grid  sampler grid, pruner none: training.learning_rate choice(1e-4,3e-4,1e-3,2e-3,3e-3,6e-3)
        x training.per_device_train_batch_size choice(8,16,32) = 18 points, every one trained fully
  tpe   sampler tpe (seed 0), pruner hyperband (min_resource 1, max_resource 6, reduction_factor 3),
        --tpe-trials trials (default 14) over the same choice() space
Training steps spent = sum over trials of metrics.json global_step (job folders from all_results.jsonl).
PASS needs: >= 8 distinct grid points completed, grid spread (max - min objective) > 0.05,
|grid best - TPE best| <= 0.01, and TPE steps <= 40% of grid steps.

Usage: python benchmarks/bench_sweep_efficiency.py [--tpe-trials 14] [--smoke]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import SHARED_CACHE, Bench, ratio, sweep_overrides, sweep_trials

MAX_DIFF = 0.01
MAX_STEP_SHARE = 0.40
MIN_GRID_POINTS = 8
MIN_SPREAD = 0.05


def summarise(trials: list[dict]) -> dict:
    """Best/min objective over COMPLETE trials, steps over all trials, counts."""
    done = [t["objective"] for t in trials if t["state"] == "COMPLETE" and t["objective"] is not None]
    states: dict[str, int] = {}
    for t in trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    return {"best": max(done) if done else None, "worst": min(done) if done else None,
            "steps": sum(t["metrics"].get("global_step", 0) for t in trials),
            "missing_metrics": sum(1 for t in trials if "global_step" not in t["metrics"]),
            "distinct_complete": len({tuple(sorted(t["params"].items())) for t in trials if t["state"] == "COMPLETE"}),
            "states": states, "n_trials": len(trials)}


def trial_log(trials: list[dict]) -> list[dict]:
    """Trials in launch order with cumulative steps: when was the best first reached, and at what cost."""
    out, cum = [], 0
    for t in sorted(trials, key=lambda t: t["number"]):
        cum += t["metrics"].get("global_step", 0)
        out.append({"number": t["number"], "state": t["state"], "objective": t["objective"],
                    "steps": t["metrics"].get("global_step", 0), "cumulative_steps": cum, "params": t["params"]})
        print(f"  tpe trial {t['number']}: {t['state']} {t['objective']} steps {out[-1]['steps']} "
              f"(cumulative {cum}) {t['params']}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tpe-trials", type=int, default=14)
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="2x2 grid and 2 TPE trials of debug=fast")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    if args.smoke:
        base, max_resource, tpe_trials = ["debug=fast"], 2, 2
        space = ["training.learning_rate=choice(1e-3,3e-3)", "training.per_device_train_batch_size=choice(4,8)"]
    else:
        base, max_resource, tpe_trials = ["experiment=sweep_demo"], 6, args.tpe_trials
        space = ["training.learning_rate=choice(1e-4,3e-4,1e-3,2e-3,3e-3,6e-3)",
                 "training.per_device_train_batch_size=choice(8,16,32)"]
    grid_points = 4 if args.smoke else 18
    bench = Bench("sweep_efficiency", f"TPE+Hyperband best within {MAX_DIFF} of the grid's best using <= "
                  f"{MAX_STEP_SHARE:.0%} of its training steps (grid >= {MIN_GRID_POINTS} points, spread > {MIN_SPREAD})",
                  args.smoke, args.keep)
    bench.warm_cache(args.cache_dir, base)

    grid_dir, tpe_dir = bench.work / "grid", bench.work / "tpe"
    bench.train([*base, *sweep_overrides(grid_dir, "efficiency_grid", 2, grid_points, "grid", "none"), *space],
                args.cache_dir, "grid", multirun=True)
    bench.train([*base, *sweep_overrides(tpe_dir, "efficiency_tpe", 2, tpe_trials, "tpe", "hyperband", seed=0),
                 "hydra.sweeper.pruner.min_resource=1", f"hydra.sweeper.pruner.max_resource={max_resource}",
                 "hydra.sweeper.pruner.reduction_factor=3", *space], args.cache_dir, "tpe", multirun=True)
    grid, tpe = summarise(sweep_trials(grid_dir)), summarise(sweep_trials(tpe_dir))
    order = trial_log(sweep_trials(tpe_dir))
    print(f"  grid: {grid}\n  tpe:  {tpe}")

    spread = grid["best"] - grid["worst"] if grid["best"] is not None else None
    diff = abs(grid["best"] - tpe["best"]) if grid["best"] is not None and tpe["best"] is not None else None
    share = ratio(tpe["steps"], grid["steps"])
    checks = {"grid points >= %d" % MIN_GRID_POINTS: grid["distinct_complete"] >= MIN_GRID_POINTS,
              "grid spread > %s" % MIN_SPREAD: spread is not None and spread > MIN_SPREAD,
              "|diff| <= %s" % MAX_DIFF: diff is not None and diff <= MAX_DIFF,
              "steps ratio <= %s" % MAX_STEP_SHARE: share is not None and share <= MAX_STEP_SHARE}
    rows = [("grid distinct points completed", grid["distinct_complete"]), ("grid spread (max-min)", spread),
            ("grid best", grid["best"]), ("TPE best", tpe["best"]), ("|diff|", diff),
            ("grid steps", grid["steps"]), ("TPE steps", tpe["steps"]), ("ratio TPE/grid steps", share),
            ("TPE trial states", tpe["states"]), *[(f"check {k}", v) for k, v in checks.items()]]
    return bench.finish(rows, all(checks.values()),
                        {"grid": grid, "tpe": tpe, "spread": spread, "diff": diff, "step_ratio": share,
                         "checks": checks, "tpe_trials": tpe_trials, "tpe_order": order})


if __name__ == "__main__":
    sys.exit(main())
