"""Per-trial overhead: everything but training/evaluation compute must be <= 5% of a ~30-second trial.

Runs a 4-trial sweep (dialsum's Optuna sweeper, n_jobs=1, pruner none, grid over 4 learning rates at a
fixed batch size, `experiment=sweep_demo training.max_steps=<--max-steps>`; tune --max-steps so a trial
lasts ~30 s on the machine: the actual length is printed). Per trial:
  duration_s   the sweeper's measure, from all_results.jsonl (Optuna trial start -> finish)
  train_time_s trainer.train() wall time incl. the in-training evaluations (job's metrics.json)
  overhead     duration_s - train_time_s, as a share of duration_s; data_prep_s shown separately
               (it is part of the overhead); "other" = overhead - data_prep_s (Hydra job set-up,
               imports/analyzer on the first trial, Trainer construction, the final re-evaluation of
               the kept model, writing the run folder, Optuna ask/tell)
The first trial of a process also pays the process's one-time start-up (importing torch/transformers,
building the Kiwi analyzer); that is a per-worker cost, not a per-trial one, so it is reported apart:
start-up = first trial's overhead - mean overhead of the others.
PASS if the mean share over the recurring trials (all but the first) <= 5%; the mean over all trials
(start-up included) and the start-up seconds are printed next to it.

Usage: python benchmarks/bench_overhead.py [--max-steps 500] [--smoke]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import SHARED_CACHE, Bench, sweep_overrides, sweep_trials

TARGET = 0.05  # mean overhead share at most this
TRIAL_S = 30   # intended trial length


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=500, help="training.max_steps; tune for ~30 s trials")
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="2 trials of debug=fast")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    if args.smoke:
        base, lrs = ["debug=fast"], "choice(1e-3,2e-3)"
    else:
        base, lrs = ["experiment=sweep_demo", f"training.max_steps={args.max_steps}"], "choice(3e-4,1e-3,2e-3,3e-3)"
    n_trials = 2 if args.smoke else 4
    bench = Bench("overhead", f"recurring per-trial overhead (duration - train_time) <= {TARGET:.0%} of a ~{TRIAL_S} s trial",
                  args.smoke, args.keep)
    bench.warm_cache(args.cache_dir, base)

    sweep_dir = bench.work / "sweep"
    bench.train([*base, *sweep_overrides(sweep_dir, "overhead", 1, n_trials, "grid"),
                 f"training.learning_rate={lrs}", "training.per_device_train_batch_size=16"],
                args.cache_dir, "sweep", multirun=True)
    per_trial = []
    for t in sorted(sweep_trials(sweep_dir), key=lambda r: r["number"]):
        m = t["metrics"]
        duration, train = t["duration_s"], m.get("train_time_s")
        if duration is None or train is None:
            print(f"  trial {t['number']}: missing duration_s or train_time_s ({t['state']}); skipped")
            continue
        over = duration - train
        per_trial.append({"number": t["number"], "state": t["state"], "duration_s": round(duration, 3),
                          "train_time_s": train, "data_prep_s": m.get("data_prep_s"), "overhead_s": round(over, 3),
                          "other_s": round(over - (m.get("data_prep_s") or 0), 3), "share": over / duration,
                          "global_step": m.get("global_step"), "n_evaluations": m.get("n_evaluations")})
        p = per_trial[-1]
        print(f"  trial {p['number']}: duration {duration:.2f} s, train {train:.2f} s, overhead {over:.2f} s "
              f"({p['share']:.1%}) = data_prep {p['data_prep_s']:.2f} s + other {p['other_s']:.2f} s")

    shares = [p["share"] for p in per_trial]
    mean_share = sum(shares) / len(shares) if shares else None
    recurring = per_trial[1:]
    recurring_share = sum(p["share"] for p in recurring) / len(recurring) if recurring else None
    startup_s = (per_trial[0]["overhead_s"] - sum(p["overhead_s"] for p in recurring) / len(recurring)
                 if recurring else None)
    mean_len = sum(p["duration_s"] for p in per_trial) / len(per_trial) if per_trial else None
    if mean_len and not args.smoke and not TRIAL_S / 1.5 <= mean_len <= TRIAL_S * 1.5:
        print(f"  note: trials last {mean_len:.1f} s, not ~{TRIAL_S} s; rerun with --max-steps "
              f"{round(args.max_steps * TRIAL_S / mean_len, -1):.0f}")
    rows = [("trials measured", len(per_trial)), ("mean trial length s", mean_len),
            ("mean train_time_s", sum(p["train_time_s"] for p in per_trial) / max(1, len(per_trial))),
            ("mean overhead s", sum(p["overhead_s"] for p in per_trial) / max(1, len(per_trial))),
            ("mean data_prep_s", sum(p["data_prep_s"] or 0 for p in per_trial) / max(1, len(per_trial))),
            ("recurring overhead share (trials 2..N)", recurring_share),
            ("one-time process start-up s (first trial)", startup_s),
            ("mean overhead share incl. start-up", mean_share), ("max overhead share", max(shares) if shares else None)]
    return bench.finish(rows, recurring_share is not None and recurring_share <= TARGET,
                        {"trials": per_trial, "recurring_share": recurring_share, "startup_s": startup_s,
                         "mean_share": mean_share, "max_share": max(shares) if shares else None,
                         "mean_trial_s": mean_len, "max_steps": None if args.smoke else args.max_steps})


if __name__ == "__main__":
    sys.exit(main())
