"""Sweep efficiency replayed: the grid's recorded learning curves fed to dialsum's own sampler, pruner, start-up
points, duplicate rule and step budget, for hundreds of TPE seeds in a minute instead of an hour each.

A tabular surrogate, as HPO benchmarks (HPOBench, YAHPO) replay recorded curves. The 15-point grid of
bench_sweep_efficiency.py (`--seeds --tag grid_curves`) trained every point fully and recorded the objective at
each evaluation; training is deterministic (fixed training seed), so a trial dialsum starts on a point reports
those values at those steps. What is simulated by hand (no library replays a study on a clock): the workers'
clock. Each of n_jobs workers runs one trial at a time; a trial's evaluation k comes k x eval_steps x the point's
recorded seconds per step after it started. At each evaluation the trial reports (step = evaluations done, as
`sweep/bridge.py`), its steps so far count toward `budget.steps`, and the pruner decides. A proposal equal to a
finished point reuses it (0 steps); one equal to a running point waits for it (`sweep/duplicates.py`).
Left out: start-up and evaluation time (the same for every setting compared).
The case `hydra-optuna-sweeper` replays the issue's batch-synchronous peer on the same curves and clock: its loop
(ask n_jobs trials, wait for the whole batch, tell), its default TPESampler, no pruner, no duplicate reuse.

Judged as bench_sweep_efficiency.py judges its step-budget runs: a seed passes when a COMPLETE trial first comes
within 0.01 of the grid's best after <= 30 % of the grid's steps (trials in number order, their steps summed).
Every setting runs on the same seeds; PASS when dialsum's default passes in >= 5 of 6 of them. Also printed: the
share of the grid's steps by which the best was reached in the median seed and in 5 of 6 seeds (sweeps run on
to 2x the grid's steps, so every seed reaches it), and the median simulated seconds of training until then.

Usage: python benchmarks/bench_sweep_replay.py [--seeds 300] [--cases default hyperband ...] [--smoke]
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import logging
import math
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

import optuna
from omegaconf import OmegaConf

from _common import DEFAULT_PRUNER, RESULTS, ROOT, Bench, read_json
from bench_sweep_efficiency import MAX_DIFF, MAX_STEP_SHARE, PASS_SHARE, SPACE, steps_to_best

sys.path.insert(0, str(ROOT / "src"))
from dialsum.sweep import budget, duplicates, startup_points  # noqa: E402
from dialsum.sweep.pruners import build_pruner  # noqa: E402
from dialsum.sweep.samplers import build_sampler  # noqa: E402
from dialsum.sweep.search_space import parse_space  # noqa: E402

CURVES = RESULTS / "sweep_efficiency_grid_curves.json"
BATCH_SYNC = "_batch_sync"  # a case key: replay hydra-optuna-sweeper's loop instead of dialsum's
BENCH = {"pruner.min_resource": 1, "pruner.max_resource": 6, "pruner.reduction_factor": 3}  # as the real bench
GP = {"_target_": "optuna.samplers.GPSampler", "n_startup_trials": 4}
CASES = {"default": {}, "hyperband": {"pruner.name": "hyperband"},
         "min_resource=2": {"pruner.min_resource": 2}, "min_resource=3": {"pruner.min_resource": 3},
         "bootstrap_count=2": {"pruner.bootstrap_count": 2},
         "hyperband bootstrap_count=2": {"pruner.name": "hyperband", "pruner.bootstrap_count": 2},
         "n_startup_trials=2": {"sampler.n_startup_trials": 2}, "pruner none": {"pruner.name": "none"},
         "sampler random": {"sampler.name": "random"},
         "reduction_factor=2": {"pruner.reduction_factor": 2}, "reduction_factor=4": {"pruner.reduction_factor": 4},
         "multivariate=false": {"sampler.multivariate": False}, "constant_liar=false": {"sampler.constant_liar": False},
         "n_startup_trials=6": {"sampler.n_startup_trials": 6},
         "reduction_factor=2 multivariate=false": {"pruner.reduction_factor": 2, "sampler.multivariate": False},
         "random search": {"sampler.name": "random", "pruner.name": "none"},  # the peer, same budget
         "sampler GP": {"sampler": GP},
         # the batch-synchronous peer: hydra-optuna-sweeper's loop and its default TPESampler (BatchSync)
         "hydra-optuna-sweeper": {BATCH_SYNC: True}}
FP = "replay"  # every trial's fingerprint: one experiment
FINISHED = "finished_s"  # trial user attr: the simulated clock when it ended


def curve_of(curves: dict[tuple, dict], trial: optuna.Trial) -> dict:
    """The recorded curve of a trial's point (keys: its parameter values in name order, as load_curves)."""
    return curves[tuple(trial.params[k] for k in sorted(trial.params))]


@dataclass(order=True)
class Event:
    """A worker's next moment: an evaluation of its trial, or asking for a new one."""

    time: float
    seq: int
    worker: int = field(compare=False)
    trial: Any = field(compare=False, default=None)  # None: the worker asks
    k: int = field(compare=False, default=0)


def settings(overrides: dict[str, Any]) -> dict[str, Any]:
    """conf/hydra/sweeper/optuna.yaml with the real bench's pruner numbers and the case's overrides."""
    cfg = OmegaConf.load(ROOT / "conf/hydra/sweeper/optuna.yaml")
    for key, value in {**BENCH, **overrides}.items():
        OmegaConf.update(cfg, key, value, force_add=True, merge=False)
    return OmegaConf.to_container(cfg, resolve=False)


class Replay:
    """One sweep of n_jobs workers over the recorded curves."""

    def __init__(self, curves: dict[tuple, dict], s: dict[str, Any], seed: int, n_jobs: int, steps: int) -> None:
        self.curves, self.space = curves, parse_space(None, SPACE)
        sampler_cfg = {**s["sampler"], "seed": seed}
        self.study = optuna.create_study(study_name=f"efficiency_tpe_{seed}", direction="maximize",
                                         sampler=build_sampler(sampler_cfg, self.space, 1),
                                         pruner=build_pruner(s["pruner"]))
        self.limits = budget.Limits(100, steps)
        startup_points.enqueue_distinct(self.study, self.space, sampler_cfg, self.limits.n_trials)
        self.events: list[Event] = []
        self.order = itertools.count()
        self.waiting: dict[int, list[tuple[int, optuna.Trial]]] = {}
        for worker in range(n_jobs):
            self.push(0.0, worker)

    def push(self, time: float, worker: int, trial: Any = None, k: int = 0) -> None:
        """Schedule an event (ties in the order they were scheduled)."""
        heapq.heappush(self.events, Event(time, next(self.order), worker, trial, k))

    def ask(self, now: float, worker: int) -> None:
        """Ask while the budget has room, then train, reuse or wait, as coordination.ask does."""
        state = budget.read(self.study)
        if state.done(self.limits) or not state.has_room(self.limits):
            return  # spent: this worker stops (running trials still finish)
        trial = self.study.ask(self.space.distributions)
        trial.set_user_attr("fingerprint", FP)
        self.carry_out(now, worker, trial, duplicates.decide(self.study, trial, FP, False))

    def carry_out(self, now: float, worker: int, trial: optuna.Trial, decision: duplicates.Decision) -> None:
        """One duplicate decision: reuse a finished twin, wait for a running one, or train."""
        duplicates.mark(self.study, trial, decision)
        if decision.action == "reuse":
            trial.set_user_attr(budget.STEPS_ATTR, 0)
            trial.set_user_attr(FINISHED, now)
            self.study.tell(trial, decision.source.value)
            self.push(now, worker)
        elif decision.action == "wait":
            self.waiting.setdefault(decision.source.number, []).append((worker, trial))
        else:
            self.push(now + self.eval_time(trial), worker, trial, 1)

    def eval_time(self, trial: optuna.Trial) -> float:
        """Seconds between two evaluations of this point."""
        p = curve_of(self.curves, trial)
        return p["eval_steps"] * p["step_time_s"]

    def evaluate(self, ev: Event) -> None:
        """Evaluation k: count its steps, report, prune or go on; the last one completes the trial."""
        p, trial, k = curve_of(self.curves, ev.trial), ev.trial, ev.k
        trial.set_user_attr(budget.STEPS_ATTR, k * p["eval_steps"])
        trial.report(p["values"][k - 1], step=k)
        if k == len(p["values"]):
            self.finish(ev, max(p["values"]))  # metrics.json's objective: the best evaluation
        elif trial.should_prune():
            self.finish(ev, None)
        else:
            self.push(ev.time + self.eval_time(trial), ev.worker, trial, k + 1)

    def finish(self, ev: Event, value: float | None) -> None:
        """Tell the trial; its waiters decide again; the worker asks again."""
        ev.trial.set_user_attr(FINISHED, ev.time)
        self.study.tell(ev.trial, value, state=optuna.trial.TrialState.PRUNED if value is None else None)
        for worker, waiter in self.waiting.pop(ev.trial.number, []):
            self.carry_out(ev.time, worker, waiter, duplicates.decide(self.study, waiter, FP, False))
        self.push(ev.time, ev.worker)

    def run(self) -> list[optuna.trial.FrozenTrial]:
        """Until no worker has anything left to do."""
        while self.events:
            ev = heapq.heappop(self.events)
            if ev.trial is None:
                self.ask(ev.time, ev.worker)
            else:
                self.evaluate(ev)
        return self.study.get_trials(deepcopy=False)


class BatchSync:
    """hydra-optuna-sweeper's loop (its `_impl.py`): ask n_jobs trials, launch them as one batch, tell them all when
    the batch's last one ends, repeat. No pruner (it has none), no duplicate reuse, and its default sampler:
    `TPESampler(seed)` with Optuna's defaults (10 random start-up trials, univariate, no constant liar)."""

    def __init__(self, curves: dict[tuple, dict], seed: int, n_jobs: int, steps: int) -> None:
        self.curves, self.space, self.n_jobs, self.steps = curves, parse_space(None, SPACE), n_jobs, steps
        self.study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))

    def run(self) -> list[optuna.trial.FrozenTrial]:
        """Batches until the trials trained `steps` steps; every trial trains its point to the end."""
        clock, spent = 0.0, 0
        while spent < self.steps:
            batch = [self.study.ask(self.space.distributions) for _ in range(self.n_jobs)]
            points = [curve_of(self.curves, t) for t in batch]
            lengths = [len(p["values"]) * p["eval_steps"] for p in points]
            clock += max(n * p["step_time_s"] for n, p in zip(lengths, points))
            for trial, p, n in zip(batch, points, lengths):
                trial.set_user_attr(budget.STEPS_ATTR, n)
                trial.set_user_attr(FINISHED, clock)
                self.study.tell(trial, max(p["values"]))
                spent += n
        return self.study.get_trials(deepcopy=False)


def wall_to_best(trials: list[optuna.trial.FrozenTrial], best: float) -> float | None:
    """Simulated seconds of training until a COMPLETE trial came within MAX_DIFF of the grid's best."""
    ends = [t.user_attrs[FINISHED] for t in trials
            if t.state.name == "COMPLETE" and t.value is not None and best - t.value <= MAX_DIFF]
    return min(ends) if ends else None


def share_to_best(trials: list[optuna.trial.FrozenTrial], best: float, grid_steps: int) -> float | None:
    """Share of the grid's steps spent until a COMPLETE trial came within MAX_DIFF (the real bench's rule)."""
    order, spent = [], 0
    for t in sorted(trials, key=lambda t: t.number):
        spent += int(t.user_attrs.get(budget.STEPS_ATTR) or 0)
        order.append({"state": t.state.name, "objective": t.value, "cumulative_steps": spent})
    hit = steps_to_best(order, best)
    return None if hit is None else hit / grid_steps


def load_curves() -> tuple[dict[tuple, dict], float, int]:
    """Point (values in parameter-name order) -> eval_steps, step_time_s, values; the grid's best and steps."""
    data = read_json(CURVES)["results"]
    curves = {tuple(t["params"][k] for k in sorted(t["params"])): {
        "values": [v for _, v in t["curve"]], "eval_steps": t["curve"][0][0], "step_time_s": t["step_time_s"]}
        for t in data["landscape"]}
    return curves, data["grid"]["best"], data["grid"]["steps"]


def replay_case(curves: dict[tuple, dict], best: float, grid_steps: int, overrides: dict[str, Any], seeds: range,
                n_jobs: int) -> dict[str, Any]:
    """Pass count and step shares over the seeds for one setting."""
    s = settings({k: v for k, v in overrides.items() if k != BATCH_SYNC})
    shares, walls = [], []
    for seed in seeds:
        sweep = (BatchSync(curves, seed, n_jobs, 2 * grid_steps) if overrides.get(BATCH_SYNC)
                 else Replay(curves, s, seed, n_jobs, 2 * grid_steps))
        trials = sweep.run()
        shares.append(share_to_best(trials, best, grid_steps))
        walls.append(wall_to_best(trials, best))
    reached = sorted(x for x in shares if x is not None)
    k = math.ceil(PASS_SHARE * len(shares))  # the seed count that "5 of 6" needs
    return {"passed": sum(x is not None and x <= MAX_STEP_SHARE for x in shares), "seeds": len(shares),
            "reached": len(reached), "median_share": statistics.median(reached) if reached else None,
            "share_5_of_6": reached[k - 1] if len(reached) >= k else None, "shares": shares,
            "median_wall_to_best_s": statistics.median(x for x in walls if x is not None) if reached else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300, help="TPE seeds 0..N-1, the same for every case")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cases", nargs="+", default=[c for c in CASES if c != "sampler GP"], choices=list(CASES),
                        help="settings to replay (default: all but 'sampler GP', whose refit per proposal makes "
                             "300 seeds take hours)")
    parser.add_argument("--smoke", action="store_true", help="6 seeds: default, hyperband, hydra-optuna-sweeper")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.cases = 6, ["default", "hyperband", "hydra-optuna-sweeper"]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("dialsum").setLevel(logging.WARNING)
    bench = Bench("sweep_replay", f"dialsum's default (TPE + {DEFAULT_PRUNER}) reaches the grid's best "
                  f"(+-{MAX_DIFF}) with "
                  f"<= {MAX_STEP_SHARE:.0%} of the grid's steps in >= 5 of 6 replayed seeds", args.smoke)
    curves, best, grid_steps = load_curves()
    print(f"curves: {CURVES.name}; {args.seeds} seeds, n_jobs {args.n_jobs}")
    results, rows = {}, []
    for name in ["default", *[c for c in args.cases if c != "default"]]:
        r = results[name] = replay_case(curves, best, grid_steps, CASES[name], range(args.seeds), args.n_jobs)
        rows.append((f"{name}: passed / median share / share in 5 of 6 / median training s to best",
                     f"{r['passed']} of {r['seeds']} ({r['passed'] / r['seeds']:.0%}) / {r['median_share']:.3f} / "
                     f"{r['share_5_of_6']:.3f} / {r['median_wall_to_best_s']:.0f}"))
        print(f"  {rows[-1][0]}: {rows[-1][1]}", flush=True)
    passed = results["default"]["passed"] >= PASS_SHARE * args.seeds - 1e-9
    return bench.finish(rows, passed, {"cases": {k: {"overrides": CASES[k], **v} for k, v in results.items()},
                                       "default_pruner": DEFAULT_PRUNER, "curves": CURVES.name})


if __name__ == "__main__":
    sys.exit(main())
