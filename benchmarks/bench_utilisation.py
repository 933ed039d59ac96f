"""Worker utilisation: with n_jobs=2 and pruning, dialsum keeps both workers >= 90% busy, and how a
batch-synchronous loop (hydra-optuna-sweeper's barrier) does on exactly the same trials.

1. dialsum: `train.py -m sweep=random experiment=sweep_demo hydra.sweeper.n_trials=8
   hydra.sweeper.sampler.seed=0 hydra.sweeper.n_jobs=2 hydra.sweeper.pruner.min_resource=1`.
   Target metric: busy_s / (2 x wall_s) from its sweep_summary.json (the sweeper's own clock).
2. batch-synchronous replay: the same trials (same params, same order; every trial replayed with
   training.max_steps=<the global_step it reached>, so pruned trials stop where they were pruned; the
   learning-rate schedule then ends at that step, the compute per step is the same),
   through Hydra's basic sweeper + joblib launcher with hydra.sweeper.max_batch_size=2: each batch of
   2 jobs waits for its slower job. Trials are passed as config-group options `+bench_trial=t<n>`
   written to a temporary --config-dir. trial.n_workers=2 gives the same torch threads per job.
3. the tail (issue 10): the same dialsum sweep again with hydra.sweeper.share_idle_cores=false, i.e. the last
   trial keeps cores / 2 torch threads while the other worker waits. Tail = last job end - the end before it
   (file times); printed for both, with the wall ratio off/on. Pruning decisions depend on finishing order, so
   the per-trial steps of both runs are printed and compared (the ratio means something only when they match).
All sides are also measured the same way from file times: a job runs from its .hydra/config.yaml
(written when the job starts) to its metrics.json (written last); utilisation = sum of job spans /
(2 x (last end - first start)). train_time_s + data_prep_s sums are shown as a second view.

Usage: python benchmarks/bench_utilisation.py [--trials 8] [--smoke]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import SHARED_CACHE, Bench, job_span, ratio, read_json, sweep_trials

TARGET = 0.90  # dialsum busy / (2 x wall) at least this
N_JOBS = 2


def spans(job_dirs: list[str]) -> dict:
    """Utilisation of N_JOBS workers from job file times, and the tail (the last job running alone)."""
    times = [job_span(d) for d in job_dirs]
    wall = max(e for _, e in times) - min(s for s, _ in times)
    busy = sum(e - s for s, e in times)
    ends = sorted(e for _, e in times)
    tail = ends[-1] - ends[-2] if len(ends) > 1 else 0.0
    return {"wall_s": round(wall, 2), "busy_s": round(busy, 2), "utilisation": round(busy / (N_JOBS * wall), 3),
            "tail_s": round(tail, 2)}


def dialsum_sweep(bench: Bench, base: list[str], n_trials: int, args: argparse.Namespace, share: bool) -> dict:
    """dialsum's async sweep (random sampler, Hyperband); its numbers and trials."""
    name = "dialsum" if share else "dialsum_noshare"
    sweep_dir = bench.work / name
    cmd_wall, _ = bench.train(
        ["sweep=random", *base, f"hydra.sweeper.n_trials={n_trials}", "hydra.sweeper.sampler.seed=0",
         f"hydra.sweeper.n_jobs={N_JOBS}", "hydra.sweeper.pruner.min_resource=1",
         *(["hydra.sweeper.pruner.max_resource=2"] if args.smoke else []), f"hydra.sweeper.share_idle_cores={share}",
         f"hydra.sweeper.study_name=utilisation_{name}", f"hydra.sweep.dir={sweep_dir}"],
        args.cache_dir, name, multirun=True)
    summary = read_json(sweep_dir / "sweep_summary.json")
    trials = sorted(sweep_trials(sweep_dir), key=lambda r: r["number"])
    usable = [t for t in trials if t["metrics"].get("global_step")]
    if len(usable) < len(trials):
        print(f"  note: {len(trials) - len(usable)} trial(s) without metrics.json (failed) are not replayed")
    for t in usable:
        print(f"  {name} trial {t['number']}: {t['state']}, {t['metrics']['global_step']} steps, {t['params']}")
    return {"command_wall_s": round(cmd_wall, 2), "sweeper_wall_s": summary["wall_s"],
            "sweeper_busy_s": summary["busy_s"], "sweeper_utilisation": summary["worker_utilisation"],
            "counts": summary["counts"], "files": spans([t["job_dir"] for t in usable]),
            "compute_s": compute_s([t["job_dir"] for t in usable]), "trials": usable}


def compute_s(job_dirs: list[str]) -> float:
    """Sum of train_time_s + data_prep_s over the jobs (the second view of busy time)."""
    total = 0.0
    for d in job_dirs:
        m = read_json(Path(d) / "metrics.json")
        total += m["train_time_s"] + m["data_prep_s"]
    return round(total, 2)


def write_replay_configs(conf_dir: Path, trials: list[dict]) -> list[str]:
    """One `@package _global_` option per trial in group bench_trial; returns the option names."""
    from omegaconf import OmegaConf

    group = conf_dir / "bench_trial"
    group.mkdir(parents=True)
    names = []
    for t in trials:
        values = {**t["params"], "training.max_steps": t["metrics"]["global_step"]}
        cfg = OmegaConf.from_dotlist([f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()])
        name = f"t{t['number']}"
        (group / f"{name}.yaml").write_text("# @package _global_\n" + OmegaConf.to_yaml(cfg))
        names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="2 trials of debug=fast")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    base = ["debug=fast"] if args.smoke else ["experiment=sweep_demo"]
    n_trials = 2 if args.smoke else args.trials
    bench = Bench("utilisation", f"dialsum sweep, n_jobs={N_JOBS} + pruning: busy/({N_JOBS} x wall) >= {TARGET}",
                  args.smoke, args.keep)
    bench.warm_cache(args.cache_dir, base)

    ours = dialsum_sweep(bench, base, n_trials, args, share=True)
    usable = ours.pop("trials")
    dialsum_util = ours["sweeper_utilisation"]
    summary = {"wall_s": ours["sweeper_wall_s"], "busy_s": ours["sweeper_busy_s"], "counts": ours["counts"]}

    conf_dir, replay_dir = bench.work / "replay_conf", bench.work / "replay"
    names = write_replay_configs(conf_dir, usable)
    cmd_wall_b, _ = bench.train(
        ["--config-dir", str(conf_dir), "hydra/sweeper=basic", "hydra/launcher=joblib",
         f"hydra.launcher.n_jobs={N_JOBS}", f"hydra.sweeper.max_batch_size={N_JOBS}", *base,
         f"trial.n_workers={N_JOBS}", f"+bench_trial={','.join(names)}", f"hydra.sweep.dir={replay_dir}"],
        args.cache_dir, "replay", multirun=True)
    replay_jobs = [str(replay_dir / str(i)) for i in range(len(names))]
    steps_ok = all(read_json(Path(d) / "metrics.json")["global_step"] == t["metrics"]["global_step"]
                   for d, t in zip(replay_jobs, usable))
    theirs = {"command_wall_s": round(cmd_wall_b, 2), "files": spans(replay_jobs), "compute_s": compute_s(replay_jobs)}

    noshare = dialsum_sweep(bench, base, n_trials, args, share=False)
    same_steps = [t["metrics"]["global_step"] for t in noshare.pop("trials")] == [
        t["metrics"]["global_step"] for t in usable]

    rows = [("dialsum utilisation (sweep_summary busy/(2 x wall))", dialsum_util),
            ("dialsum sweeper wall s / busy s", f"{summary['wall_s']} / {summary['busy_s']}"),
            ("trial states", summary["counts"]),
            ("file-time wall s: dialsum / batch-sync", f"{ours['files']['wall_s']} / {theirs['files']['wall_s']}"),
            ("file-time utilisation: dialsum / batch-sync",
             f"{ours['files']['utilisation']} / {theirs['files']['utilisation']}"),
            ("wall ratio batch-sync/dialsum (file times)", ratio(theirs["files"]["wall_s"], ours["files"]["wall_s"])),
            ("command wall s: dialsum / batch-sync", f"{ours['command_wall_s']} / {theirs['command_wall_s']}"),
            ("train+prep s: dialsum / batch-sync", f"{ours['compute_s']} / {theirs['compute_s']}"),
            ("replayed steps match", steps_ok),
            ("tail s (last job alone): share_idle_cores on / off",
             f"{ours['files']['tail_s']} / {noshare['files']['tail_s']}"),
            ("file-time wall s: share on / off", f"{ours['files']['wall_s']} / {noshare['files']['wall_s']}"),
            ("wall ratio off/on (file times)", ratio(noshare["files"]["wall_s"], ours["files"]["wall_s"])),
            ("same trials and steps with share on and off", same_steps)]
    return bench.finish(rows, dialsum_util is not None and dialsum_util >= TARGET,
                        {"dialsum": ours, "batch_sync": theirs, "dialsum_share_off": noshare,
                         "same_steps_share_on_off": same_steps, "trials": [
                            {k: t[k] for k in ("number", "state", "params", "duration_s", "job_dir")}
                            | {"global_step": t["metrics"]["global_step"]} for t in usable],
                         "replayed_steps_match": steps_ok,
                         "duration_source": "file mtimes: .hydra/config.yaml -> metrics.json; sweeper clock for target"})


if __name__ == "__main__":
    sys.exit(main())
