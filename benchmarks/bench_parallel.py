"""Parallel trials: n_jobs=2 must reach >= 95 % of the speed-up the machine allows, measured in the same run.

The bound: how much faster the same trials run two side by side (1 torch thread each, as dialsum gives each of
2 workers) than one after the other (alone, all cores, as with n_jobs=1). A trial that already keeps both cores
busy leaves little to gain, so the old fixed 1.6x target measured the machine, not the sweeper.
  speed-up = wall(n_jobs=1) / wall(n_jobs=2) of the same 8 fixed trials through dialsum's Optuna sweeper
             (grid over training.learning_rate choice(3e-4,1e-3,2e-3,3e-3) x batch choice(8,16), pruner none,
             `experiment=sweep_demo training.max_steps=150`, joblib launcher, fresh sweep folders, warm cache)
  bound    = 2 x sum(alone) / sum(side by side) over the same 8 points, where trial compute = metrics.json
             train_time_s + final_eval_s (start-up and data preparation excluded: paid once per process):
             alone = each trial's compute in the n_jobs=1 sweep; side by side = the 8 points re-run outside any
             sweeper as 4 pairs started at the same moment (`train.py trial.n_workers=2`; points paired in
             order of their alone compute, so partners overlap).
  ratio    = speed-up / bound; PASS if >= 0.95.
Both sides are measured --rounds times (default 2) in ABBA order (n_jobs=1, n_jobs=2, pairs; then pairs, n_jobs=2,
n_jobs=1): the ratio comes from the mean walls and each point's mean compute, and each round's own ratio is printed.
One round's two measurements of "trials side by side" (the n_jobs=2 sweep's own and the pairs') differed by up to
6 % between runs minutes apart, more than the gap to the target, so one round was not enough.
The bound is measured on the sweep's own points because the trial mix decides it: a low learning rate keeps
the scratch model writing max-length summaries, and generation gains less from a second thread than training
does (the first version measured one learning rate per batch size and got a bound of 1.41 where the sweep's
trials allowed about 1.31). The 1-minute load average before each part is recorded (rerun when it was busy).

Usage: python benchmarks/bench_parallel.py [--rounds 2] [--smoke]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import BASE_ENV, PY, ROOT, SHARED_CACHE, TRAIN, Bench, ratio, read_json, sweep_overrides, sweep_trials

TARGET = 0.95  # speed-up / bound at least this
N_JOBS = 2


def trial_compute_s(run_dir: Path) -> float:
    """A run's trial compute: training with its evaluations, plus the final re-evaluation."""
    m = read_json(run_dir / "metrics.json")
    return float(m["train_time_s"]) + float(m.get("final_eval_s") or 0.0)


def side_by_side(bench: Bench, runs: list[list[str]], cache: Path) -> float:
    """Start the runs at the same moment (Popen), wait for all; wall seconds."""
    env = {**os.environ, **BASE_ENV, "DIALSUM_CACHE": str(cache)}
    for args in runs:
        bench.commands.append("(concurrent) " + " ".join(args))
        print(f"$ (concurrent) {' '.join(args)}", flush=True)
    started = time.perf_counter()
    procs = [subprocess.Popen(a, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for a in runs]
    outputs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - started
    for p, out in zip(procs, outputs):
        if p.returncode != 0:
            print(out[-3000:], file=sys.stderr)
            raise SystemExit(f"parallel: a concurrent run failed (exit {p.returncode})")
    print(f"  -> {wall:.2f} s for {len(runs)} runs side by side", flush=True)
    return wall


def measure_pairs(bench: Bench, base: list[str], alone: dict[tuple, float], cache: Path, tag: str) -> dict:
    """The sweep's points re-run as side-by-side pairs: each point's trial compute."""
    points = sorted(alone, key=lambda p: alone[p])
    paired: dict[tuple, float] = {}
    for i in range(0, len(points) - 1, N_JOBS):
        pair = points[i:i + N_JOBS]
        dirs = [bench.work / f"pair{tag}_{i + j}" for j in range(len(pair))]
        side_by_side(bench, [[PY, TRAIN, *base, *[f"{k}={v}" for k, v in p], "artifacts.save_model=false",
                              f"trial.n_workers={N_JOBS}", f"hydra.run.dir={d}"] for p, d in zip(pair, dirs)], cache)
        for p, d in zip(pair, dirs):
            paired[p] = trial_compute_s(d)
            print(f"  {dict(p)}: alone {alone[p]:.2f} s, side by side {paired[p]:.2f} s")
    return paired


def bound_of(alone: dict[tuple, float], paired: dict[tuple, float]) -> dict:
    """bound = 2 x sum(alone) / sum(side by side) over the paired points."""
    return {"alone_s": {str(dict(p)): round(alone[p], 3) for p in paired},
            "side_by_side_s": {str(dict(p)): round(v, 3) for p, v in paired.items()},
            "bound": N_JOBS * sum(alone[p] for p in paired) / sum(paired.values())}


def run_sweep(bench: Bench, base: list[str], space: list[str], n_jobs: int, n_trials: int, cache: Path,
              tag: str) -> dict:
    """The fixed grid through dialsum's sweeper with n_jobs workers; wall and what the sweep says."""
    sweep_dir = bench.work / f"sweep_nj{n_jobs}{tag}"
    wall, _ = bench.train([*base, *sweep_overrides(sweep_dir, f"parallel_nj{n_jobs}", n_jobs, n_trials, "grid"),
                           *space], cache, f"nj{n_jobs}{tag}", multirun=True)
    summary = read_json(sweep_dir / "sweep_summary.json")
    trials = sweep_trials(sweep_dir)
    compute = {tuple(sorted(t["params"].items())): trial_compute_s(Path(t["job_dir"])) for t in trials}
    return {"command_wall_s": round(wall, 3), "sweeper_wall_s": summary["wall_s"], "compute_s": compute,
            "utilisation": summary["worker_utilisation"], "counts": summary["counts"],
            "distinct_params": len({tuple(sorted(t["params"].items())) for t in trials}),
            "mean_trial_s": round(sum(t["duration_s"] or 0 for t in trials) / max(1, len(trials)), 2)}


def one_round(bench: Bench, base: list[str], space: list[str], n_trials: int, cache: Path, index: int,
              order_by: dict[tuple, float] | None) -> dict:
    """The two sweeps and the pairs; odd rounds run them in reverse (ABBA over rounds), so a drift of the VM's
    speed during the run favours neither side. Pairs are formed by the first n_jobs=1 sweep's compute."""
    tag, out, loads = f"_r{index}", {}, {}
    parts = ["nj1", "nj2", "pairs"] if index % 2 == 0 else ["pairs", "nj2", "nj1"]
    for part in parts:
        loads[f"before_{part}"] = os.getloadavg()[0]
        if part == "pairs":
            out["pairs"] = measure_pairs(bench, base, order_by or out[1]["compute_s"], cache, tag)
            continue
        n_jobs = int(part[2:])
        out[n_jobs] = run_sweep(bench, base, space, n_jobs, n_trials, cache, tag)
        print(f"  round {index} n_jobs={n_jobs}: { {k: v for k, v in out[n_jobs].items() if k != 'compute_s'} }")
    bound = bound_of(out[1]["compute_s"], out["pairs"])
    speedup = ratio(out[1]["command_wall_s"], out[N_JOBS]["command_wall_s"])
    return {"order": parts, "sweeps": {n: out[n] for n in (1, N_JOBS)}, "pairs": out["pairs"], "bound": bound,
            "speedup": speedup, "ratio": ratio(speedup, bound["bound"]), "load_average": loads}


def mean_by_point(maps: list[dict[tuple, float]]) -> dict[tuple, float]:
    """Each point's mean over the rounds."""
    return {p: sum(m[p] for m in maps) / len(maps) for p in maps[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of (n_jobs=1, n_jobs=2, pairs), ABBA order (default 2; --smoke 1)")
    parser.add_argument("--smoke", action="store_true", help="debug=fast, 2 trials, one batch size")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    if args.smoke:
        base, batches, lrs = ["debug=fast"], [8], "choice(1e-3,2e-3)"
    else:
        base, batches, lrs = ["experiment=sweep_demo", "training.max_steps=150"], [8, 16], "choice(3e-4,1e-3,2e-3,3e-3)"
    space = [f"training.learning_rate={lrs}", f"training.per_device_train_batch_size=choice({','.join(map(str, batches))})"]
    n_trials = 2 * len(batches) if args.smoke else 4 * len(batches)
    bench = Bench("parallel", f"{n_trials} fixed trials: n_jobs={N_JOBS} speed-up >= {TARGET} x the bound measured "
                  "in the same run (2 side-by-side trainings vs 1 alone)", args.smoke, args.keep)
    bench.warm_cache(args.cache_dir, base)
    rounds: list[dict] = []
    for index in range(args.rounds or (1 if args.smoke else 2)):
        first = rounds[0]["sweeps"][1]["compute_s"] if rounds else None
        rounds.append(one_round(bench, base, space, n_trials, args.cache_dir, index, first))
        print(f"  round {index}: speed-up {rounds[-1]['speedup']:.3f}, bound {rounds[-1]['bound']['bound']:.3f}, "
              f"ratio {rounds[-1]['ratio']:.3f}", flush=True)
    walls = {n: sum(r["sweeps"][n]["command_wall_s"] for r in rounds) / len(rounds) for n in (1, N_JOBS)}
    bound = bound_of(mean_by_point([r["sweeps"][1]["compute_s"] for r in rounds]),
                     mean_by_point([r["pairs"] for r in rounds]))
    speedup = ratio(walls[1], walls[N_JOBS])
    share = ratio(speedup, bound["bound"])
    in_sweep = [round(sum(r["sweeps"][N_JOBS]["compute_s"].values()), 2) for r in rounds]
    for r in rounds:
        for sweep in r["sweeps"].values():
            sweep.pop("compute_s")
        r["pairs"] = {str(dict(p)): round(v, 3) for p, v in r["pairs"].items()}
    complete = all(o["counts"].get("COMPLETE", 0) == n_trials and o["distinct_params"] == n_trials
                   for r in rounds for o in r["sweeps"].values())
    rows = [("rounds (order of each)", " | ".join(",".join(r["order"]) for r in rounds)),
            ("bound (2 x alone / side by side, the sweep's points, means over rounds)", bound["bound"]),
            ("sum of trial compute s: alone (n_jobs=1 sweeps) / side by side (pairs)",
             f"{sum(bound['alone_s'].values()):.2f} / {sum(bound['side_by_side_s'].values()):.2f}"),
            ("sum of trial compute s in each n_jobs=2 sweep", " / ".join(map(str, in_sweep))),
            ("n_jobs=1 command wall s, each round", " / ".join(str(r["sweeps"][1]["command_wall_s"]) for r in rounds)),
            (f"n_jobs={N_JOBS} command wall s, each round",
             " / ".join(str(r["sweeps"][N_JOBS]["command_wall_s"]) for r in rounds)),
            ("speed-up wall(1)/wall(2), mean walls", speedup), ("ratio speed-up / bound", share),
            ("each round's own ratio", " / ".join(f"{r['ratio']:.3f}" for r in rounds)),
            ("utilisation n1 / n2, each round",
             " | ".join(f"{r['sweeps'][1]['utilisation']} / {r['sweeps'][N_JOBS]['utilisation']}" for r in rounds)),
            (f"all {n_trials} distinct trials COMPLETE in every sweep", complete)]
    return bench.finish(rows, complete and (share or 0) >= TARGET,
                        {"rounds": rounds, "bound": bound, "mean_command_wall_s": walls, "speedup": speedup,
                         "trial_compute_sum_s_nj2": in_sweep, "ratio": share, "all_complete": complete})


if __name__ == "__main__":
    sys.exit(main())
