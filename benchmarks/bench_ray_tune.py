"""dialsum's sweeper vs Ray Tune, side by side: same training, search space, trial budget and parallel workers.

Per seed, in this one invocation:
  dialsum   `train.py -m hydra/sweeper=optuna` TPE (dialsum's defaults: n_startup_trials 4, multivariate,
            constant liar, the seed) + its default pruner, successive_halving (--pruner hyperband: Optuna's
            Hyperband) with min_resource 1, max_resource = evaluations, eta 3,
            joblib launcher, n_jobs workers
  ray_asha  Ray Tune `Tuner` + `OptunaSearch` (the same TPE settings and seed) + `ASHAScheduler` (grace 1,
            max_t = evaluations, eta 3), `max_concurrent_trials` = n_jobs, 1 CPU per trial (_ray_side.py)
  ray_hb    the same with Ray's `HyperBandScheduler` (max_t, eta 3) and no `max_concurrent_trials` (under it
            Ray's synchronous brackets stop nothing; resources still run n_jobs at once); the trainable reports
            a checkpoint at every evaluation (a pointer to the HF checkpoint dialsum just saved), so a trial
            HyperBand pauses resumes where it stopped, as Ray's HyperBand examples do   [--schedulers hyperband]
Every trainable runs dialsum's training (`dialsum.engine.run.train`) on the config `train.py` composes from the
same overrides, with `trial.n_workers` = n_jobs (same torch threads per trial) and the same warm data cache.
Space and trials: bench_sweep_efficiency.py's landscape (experiment=sweep_demo, 2,000 rows, 600 steps,
6 evaluations, lr 5 x batch 3 choices). The grid's best: the exhaustive 15-point grid rerun here first, or with
--reuse-grid read from benchmarks/results/sweep_efficiency.json (measured on older code: the landscape drifts).
Per side and seed: best objective of fully trained trials; training steps (Σ steps trained, resumed runs too);
steps spent (trials in start order) until a full trial is within 0.01 of the grid's best; wall time of the
whole command; worker utilisation = Σ trial busy time (dialsum: metrics.json started_at..finished_at; Ray:
`train` call..last report or return, per run of a resumed trial) / (n_jobs x wall); per-trial overhead =
(n_jobs x wall - busy) / trials.
Ratios: steps dialsum/ray, wall ray/dialsum, both sides of each ratio run here. Results JSON records the load
average before/after each side, versions and seeds.

Usage: python benchmarks/bench_ray_tune.py [--seeds 0 1 2 3 4 5] [--trials 8] [--schedulers asha hyperband]
       [--reuse-grid] [--smoke]
Needs the bench extra: pip install -e ".[bench]".
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import statistics
import sys
from pathlib import Path

from _common import DEFAULT_PRUNER, PY, ROOT, SHARED_CACHE, Bench, fmt, ratio, read_json, sweep_overrides, sweep_trials
from bench_sweep_efficiency import SMOKE_SPACE, SPACE, TRIALS, stored_grid

SMOKE_TRIALS = ["debug=fast", "training.max_steps=6"]  # 3 evaluations: enough rungs for HyperBand to pause trials

MAX_DIFF = 0.01
MAX_STEP_SHARE = 0.30
SEEDS_NEEDED = (5, 6)   # dialsum reaches the grid's best within MAX_STEP_SHARE in >= 5 of 6 seeds
N_JOBS = 2
ETA = 3
N_STARTUP = 4           # dialsum's sampler.n_startup_trials default (conf/hydra/sweeper/optuna.yaml)
VERSIONS = ("ray", "optuna", "torch", "transformers", "hydra-core", "dialsum")


def choices(space: list[str]) -> dict[str, list[float]]:
    """`key=choice(a,b)` overrides -> {key: [a, b]} for Ray's tune.choice."""
    out = {}
    for item in space:
        key, _, rest = item.partition("=choice(")
        out[key] = [float(v) if "." in v or "e" in v else int(v) for v in rest.rstrip(")").split(",")]
    return out


def grid_reference(bench: Bench, base: list[str], space: list[str], args: argparse.Namespace) -> dict:
    """The grid's best and steps: rerun here, or (--reuse-grid) read from bench_sweep_efficiency's result."""
    stored = stored_grid(base, space) if args.reuse_grid else None
    if stored:
        return {"best": stored["grid"]["best"], "steps": stored["grid"]["steps"],
                "source": f"sweep_efficiency.json ({stored['when']}, grid of the same trials and space)"}
    grid_dir = bench.work / "grid"
    points = 1
    for values in choices(space).values():
        points *= len(values)
    bench.train([*base, *sweep_overrides(grid_dir, "raycmp_grid", N_JOBS, points, "grid", "none"), *space],
                args.cache_dir, "grid", multirun=True)
    done = [t for t in sweep_trials(grid_dir) if t["state"] == "COMPLETE" and t["objective"] is not None]
    return {"best": max(t["objective"] for t in done), "steps": sum(t["metrics"].get("global_step", 0) for t in done),
            "source": "rerun in this invocation"}


def side_stats(trials: list[dict], wall_s: float, grid: dict, n_evals: int) -> dict:
    """Best, steps, steps to the grid's best, utilisation and per-trial overhead from uniform trial rows
    ({start, end, busy_s, steps, evals, best}); seconds to the grid's best count from the first trial's start
    (start-up before it is left out on both sides) to the end of the first full trial within MAX_DIFF."""
    trials = sorted(trials, key=lambda t: t["start"])
    full = [t for t in trials if t["evals"] >= n_evals and t["best"] is not None]
    cum, to_best = 0, None
    for t in trials:
        cum += t["steps"]
        if to_best is None and t in full and grid["best"] - t["best"] <= MAX_DIFF:
            to_best = cum
    busy = sum(t["busy_s"] for t in trials)
    ran = [t for t in trials if t["start"] != float("inf")]  # a reused duplicate ran no job: not a trial's overhead
    hits = [t["end"] for t in full if grid["best"] - t["best"] <= MAX_DIFF]
    return {"best": max((t["best"] for t in full), default=None), "steps": sum(t["steps"] for t in trials),
            "steps_to_grid_best": to_best, "share_to_grid_best": ratio(to_best, grid["steps"]),
            "s_to_grid_best": round(min(hits) - trials[0]["start"], 1) if hits else None,
            "wall_s": round(wall_s, 2), "busy_s": round(busy, 2), "n_trials": len(trials), "n_full": len(full),
            "utilisation": round(busy / (N_JOBS * wall_s), 3),
            "overhead_per_trial_s": round((N_JOBS * wall_s - busy) / max(1, len(ran)), 2), "n_ran": len(ran),
            "trials": trials}


def run_dialsum(bench: Bench, base: list[str], space: list[str], args: argparse.Namespace, seed: int,
                n_evals: int) -> tuple[list[dict], float]:
    """dialsum's TPE + pruner sweep; trial rows and command wall time."""
    sweep_dir = bench.work / f"dialsum_seed{seed}"
    budget = [f"hydra.sweeper.budget.steps={args.budget_steps}"] if args.budget_steps else []
    wall, _ = bench.train([*base, *sweep_overrides(sweep_dir, f"raycmp_{seed}", N_JOBS, args.trials, "tpe",
                                                   args.pruner, seed=seed), *budget,
                           f"hydra.sweeper.sampler.n_startup_trials={N_STARTUP}", "hydra.sweeper.pruner.min_resource=1",
                           f"hydra.sweeper.pruner.max_resource={n_evals}",
                           f"hydra.sweeper.pruner.reduction_factor={ETA}", *space],
                          args.cache_dir, f"dialsum_seed{seed}", multirun=True)
    rows = []
    for t in sweep_trials(sweep_dir):
        m = t["metrics"]
        history = m.get("history", [])
        rows.append({"number": t["number"], "state": t["state"], "params": t["params"],
                     "start": m.get("started_at", float("inf")), "end": m.get("finished_at", float("inf")),
                     "busy_s": (m["finished_at"] - m["started_at"]) if "finished_at" in m else 0.0,
                     "steps": m.get("global_step", 0), "evals": len(history) if t["state"] == "COMPLETE" else 0,
                     "best": t["objective"] if t["state"] == "COMPLETE" else None})
    return rows, wall


def run_ray(bench: Bench, base: list[str], space: list[str], args: argparse.Namespace, seed: int, n_evals: int,
            name: str) -> tuple[list[dict], float, dict]:
    """Ray Tune in its own process (_ray_side.py); trial rows, command wall time, its timings."""
    work = bench.work / f"{name}_seed{seed}"
    work.mkdir(parents=True)
    spec = {"base": base, "space": choices(space), "n_trials": args.trials, "n_jobs": N_JOBS, "seed": seed,
            "scheduler": name.removeprefix("ray_"), "max_t": n_evals, "grace_period": 1, "reduction_factor": ETA,
            "n_startup_trials": N_STARTUP, "cache": str(args.cache_dir), "work": str(work),
            "step_budget": args.budget_steps, "checkpoint": name == "ray_hyperband"}
    (work / "spec.json").write_text(json.dumps(spec))
    wall, _ = bench.run([PY, str(ROOT / "benchmarks" / "_ray_side.py"), str(work / "spec.json"),
                         str(work / "out.json")], args.cache_dir, f"{name}_seed{seed}",
                        env={"RAY_USAGE_STATS_ENABLED": "0"})
    out = read_json(work / "out.json")
    if out["errors"]:  # a crashing trainable would quietly shrink the Ray side
        raise SystemExit(f"{name} seed {seed}: {out['errors']} Ray trial(s) raised; see {work}")
    rows = [ray_row(r, n_evals) for r in out["records"]]
    return rows, wall, {k: out[k] for k in ("init_s", "fit_s", "process_s", "errors", "n_results")}


def ray_row(record: dict, n_evals: int) -> dict:
    """A Ray trial's row; a trial paused and resumed from its checkpoint (HyperBand) has one segment per run."""
    evals, segments = record["evals"], record["segments"]
    ends = [seg.get("ended", seg.get("last_t") or seg["started"]) for seg in segments]  # a stopped run: last report
    busy = sum(end - seg["started"] for seg, end in zip(segments, ends))
    return {"trial_id": record["trial_id"], "params": record["params"], "start": segments[0]["started"],
            "end": ends[-1], "busy_s": busy,
            "steps": sum(seg.get("steps", 0) for seg in segments), "evals": len(evals), "runs": len(segments),
            "best": max(e["value"] for e in evals) if len(evals) >= n_evals else None}


def load() -> list[float]:
    """1/5/15-minute load average (other work on the 2 cores skews every wall time)."""
    return [round(x, 2) for x in os.getloadavg()]


def versions() -> dict[str, str]:
    """Installed versions of the packages both sides run on."""
    out = {}
    for name in VERSIONS:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def verdicts(per_seed: dict, sides: list[str]) -> tuple[dict, list[tuple[str, object]]]:
    """Targets over seeds: dialsum's reach within 30 % of grid steps, steps vs Ray ASHA, wall vs Ray."""
    n = len(per_seed)
    reach = sum(1 for s in per_seed.values() if s["dialsum"]["share_to_grid_best"] is not None
                and s["dialsum"]["share_to_grid_best"] <= MAX_STEP_SHARE)
    need = -(-SEEDS_NEEDED[0] * n // SEEDS_NEEDED[1])
    steps = {side: sum(s[side]["steps"] for s in per_seed.values()) for side in sides}
    walls = {side: sum(s[side]["wall_s"] for s in per_seed.values()) for side in sides}
    checks = {f"dialsum within {MAX_DIFF} of grid best with <= {MAX_STEP_SHARE:.0%} of grid steps in >= "
              f"{SEEDS_NEEDED[0]}/{SEEDS_NEEDED[1]} seeds ({reach}/{n})": reach >= need and n >= SEEDS_NEEDED[1]}
    rows: list[tuple[str, object]] = [("seeds where dialsum reached grid best within 30 % of grid steps", f"{reach} of {n}")]
    for side in sides[1:]:
        steps_ratio, wall_ratio = ratio(steps["dialsum"], steps[side]), ratio(walls[side], walls["dialsum"])
        rows += [(f"steps dialsum/{side} (all seeds)", steps_ratio), (f"wall {side}/dialsum (all seeds)", wall_ratio)]
        if side == "ray_asha":
            checks["steps dialsum/ray_asha <= 1.0"] = steps_ratio is not None and steps_ratio <= 1.0
            checks["wall ray_asha/dialsum >= 1.0"] = wall_ratio is not None and wall_ratio >= 1.0
    if n < SEEDS_NEEDED[1]:
        rows.append(("note", f"{n} seed(s): the {SEEDS_NEEDED[0]}-of-{SEEDS_NEEDED[1]} target needs "
                             f"--seeds with {SEEDS_NEEDED[1]} seeds; FAIL here means not judged"))
    return checks, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="trial budget of every side")
    parser.add_argument("--pruner", default=DEFAULT_PRUNER, help="dialsum's pruner (default: dialsum's default)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--schedulers", nargs="+", default=["asha", "hyperband"], choices=["asha", "hyperband"])
    parser.add_argument("--reuse-grid", action="store_true", help="take the grid's best from results/sweep_efficiency.json "
                        "instead of rerunning the 15-point grid (~8 min quiet; that file may predate code changes)")
    parser.add_argument("--step-budget", type=float, default=None, metavar="SHARE",
                        help="both sides stop asking once their trials trained SHARE x the grid's steps (running "
                             "trials finish; dialsum: hydra.sweeper.budget.steps); the trial budget becomes 100")
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="debug=fast trials (6 steps, 3 evaluations), 2x2 space, "
                        "6 trials, one seed, both Ray schedulers")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    base, space, n_evals = (SMOKE_TRIALS, SMOKE_SPACE, 3) if args.smoke else (TRIALS, SPACE, 6)
    if args.smoke:
        args.trials, args.seeds, args.reuse_grid, args.schedulers = 6, args.seeds[:1], False, ["asha", "hyperband"]
    sides = ["dialsum", *(f"ray_{s}" for s in args.schedulers)]
    bench = Bench("ray_tune", f"dialsum TPE+{args.pruner} vs Ray Tune OptunaSearch+ASHA: grid best within {MAX_DIFF} with "
                  f"<= {MAX_STEP_SHARE:.0%} of grid steps (>= 5 of 6 seeds), steps dialsum/ray <= 1.0, wall "
                  f"ray/dialsum >= 1.0 (n_jobs={N_JOBS}, "
                  f"{f'step budget {args.step_budget:.0%} of the grid' if args.step_budget else f'{args.trials} trials'})",
                  args.smoke, args.keep)
    bench.machine.update({"versions": versions(), "seeds": args.seeds})
    print(f"versions: {bench.machine['versions']}")
    bench.warm_cache(args.cache_dir, base)
    grid = grid_reference(bench, base, space, args)
    print(f"grid reference: best {grid['best']:.4f}, {grid['steps']} steps ({grid['source']})")
    args.budget_steps = int(args.step_budget * grid["steps"]) if args.step_budget else None
    if args.budget_steps:
        args.trials = 100
        print(f"step budget: {args.budget_steps} training steps per side ({args.step_budget:.0%} of the grid's)")
    per_seed, loads = {}, {}
    for seed in args.seeds:
        per_seed[seed] = {}
        for side in sides:
            before = load()
            if side == "dialsum":
                trials, wall = run_dialsum(bench, base, space, args, seed, n_evals)
                extra = {}
            else:
                trials, wall, extra = run_ray(bench, base, space, args, seed, n_evals, side)
            per_seed[seed][side] = {**side_stats(trials, wall, grid, n_evals), **extra}
            loads[f"{side} seed {seed}"] = {"before": before, "after": load()}
    rows: list[tuple[str, object]] = [("grid best / steps", f"{grid['best']:.4f} / {grid['steps']} ({grid['source']})")]
    for seed, result in per_seed.items():
        for side in sides:
            s = result[side]
            rows.append((f"seed {seed} {side}: best / steps / to grid best / s to it / wall s / util / overhead s",
                         f"{fmt(s['best'])} / {s['steps']} / {s['steps_to_grid_best'] or 'never'} "
                         f"({fmt(s['share_to_grid_best'])}) / {s['s_to_grid_best'] or 'never'} / {s['wall_s']} / "
                         f"{s['utilisation']} / {s['overhead_per_trial_s']}"))
    for side in sides:
        bests = [r[side]["best"] for r in per_seed.values() if r[side]["best"] is not None]
        if len(bests) > 1:
            rows.append((f"{side}: best mean / stdev over seeds", f"{statistics.mean(bests):.4f} / "
                                                                  f"{statistics.stdev(bests):.4f}"))
    checks, summary_rows = verdicts(per_seed, sides)
    rows += summary_rows + [(f"check {k}", v) for k, v in checks.items()]
    return bench.finish(rows, all(checks.values()),
                        {"grid": grid, "per_seed": per_seed, "loadavg": loads, "checks": checks,
                         "trials": args.trials, "step_budget": args.budget_steps, "n_jobs": N_JOBS,
                         "seeds": args.seeds, "schedulers": args.schedulers,
                         "versions": bench.machine["versions"]})


if __name__ == "__main__":
    sys.exit(main())
