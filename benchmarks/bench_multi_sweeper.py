"""Several sweepers on one PostgreSQL study (issue 11): the storage is not the bottleneck, and a SIGKILLed
sweeper's trial comes back within the grace period plus one ask.

1. Throughput: the same fake-job sweep (tests/fake_app.py, each trial sleeps --trial-s) run by
   A) one sweeper with n_jobs=3 (joblib launcher) and B) three sweepers with n_jobs=1 each, the same command,
   on a real PostgreSQL server started here (tests/postgres.py). Trials/hour from the storage's timestamps
   (first trial start to last trial end, so process start-up is not counted). Target: B within 10 % of A.
2. Storage overhead per trial: dialsum's coordination (study lock, stale-trial check, budget read, ask,
   heartbeat, duplicate check, tell) vs plain Optuna ask+tell on the same server, 1 process and 3 at once.
3. Recovery: a sweeper in its own pid namespace (so only its heartbeat can tell it is gone) is SIGKILLed
   mid-trial; the time until another sweeper starts the re-queued trial, from the kill and from its last
   heartbeat (Optuna's trial_heartbeats table). Target: <= grace_period + one ask (+ one heartbeat interval
   from the kill, since staleness counts from the last beat, and the 1 s poll of a waiting sweeper).

Usage: python benchmarks/bench_multi_sweeper.py [--trials 30 --trial-s 3] [--smoke]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from _common import BASE_ENV, ROOT, Bench

sys.path.insert(0, str(ROOT / "tests"))
from postgres import PostgresServer  # noqa: E402  (the tests' throw-away server)

FAKE = str(ROOT / "tests" / "fake_app.py")
SPACE = ["hydra.sweeper.sampler.name=random", "hydra.sweeper.pruner.name=none",
         "training.learning_rate=tag(log, interval(1e-4, 1e-2))"]
TARGET = 0.90  # three sweepers' trials/hour at least this share of one sweeper's


def sweeper_cmd(work: Path, name: str, url: str, n_trials: int, n_jobs: int, beat: tuple[int, int]) -> list[str]:
    """One sweeper of study `name` on `url`."""
    launcher = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"] if n_jobs > 1 else []
    return [sys.executable, FAKE, "-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={work / name}",
            f"hydra.sweeper.study_name={name}", f"hydra.sweeper.storage='{url}'", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweeper.n_jobs={n_jobs}", f"hydra.sweeper.heartbeat_interval={beat[0]}",
            f"hydra.sweeper.grace_period={beat[1]}", *launcher, *SPACE]


def spawn(bench: Bench, cmd: list[str], env: dict[str, str], prefix: list[str] | None = None,
          log: str = "sweeper") -> subprocess.Popen:
    """Start a sweeper (own process group) from the project root; its output goes to the work dir."""
    bench.commands.append(" ".join([*(prefix or []), *cmd]))
    out = open(bench.work / f"{log}.log", "w")
    return subprocess.Popen([*(prefix or []), *cmd], cwd=ROOT, env={**os.environ, **BASE_ENV, **env}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def trials_per_hour(url: str, name: str) -> tuple[float, int]:
    """Finished trials / (last end - first start) from the storage, in trials per hour."""
    import optuna

    trials = [t for t in optuna.load_study(study_name=name, storage=url).trials if t.datetime_complete]
    span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    return len(trials) * 3600 / span.total_seconds(), len(trials)


def throughput(bench: Bench, server: PostgresServer, n_trials: int, trial_s: float) -> dict[str, float]:
    """A: 1 sweeper x 3 workers; B: 3 sweepers x 1 worker; same trials, same server."""
    env = {"FAKE_SLEEP": str(trial_s), "DIALSUM_CACHE": str(bench.work / "cache")}
    out: dict[str, float] = {}
    for label, sweepers, n_jobs in (("one_sweeper_3_workers", 1, 3), ("three_sweepers_1_worker", 3, 1)):
        url = server.create_database()
        cmd = sweeper_cmd(bench.work, label, url, n_trials, n_jobs, (10, 60))
        procs = [spawn(bench, cmd, env, log=f"{label}_{i}") for i in range(sweepers)]
        codes = [p.wait(timeout=1800) for p in procs]
        if any(codes):
            raise SystemExit(f"{label}: a sweeper failed {codes}; logs in {bench.work}")
        out[label], n = trials_per_hour(url, label)
        print(f"  {label}: {n} trials, {out[label]:.0f} trials/hour", flush=True)
    return out


def _overhead_worker(url: str, name: str, k: int, coordinated: bool, queue: multiprocessing.Queue) -> None:
    """k trials of storage work only (no job): dialsum's coordination or plain ask/tell; puts ms per trial."""
    import optuna

    from dialsum.sweep.budget import Limits
    from dialsum.sweep.coordination import Coordinator
    from dialsum.sweep.liveness import run_identity

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    me = run_identity()
    coord = Coordinator({"heartbeat_interval": 10, "grace_period": 60}, url, me)
    study = optuna.create_study(study_name=name, storage=coord.storage, load_if_exists=True,
                                sampler=optuna.samplers.RandomSampler())  # storage cost, not TPE's model
    if coordinated:
        coord.attach(study, 1)
    started = time.perf_counter()
    for _ in range(k):
        if coordinated:
            trial, _decision = coord.ask(study, dist, Limits(10**9), {"sweeper": me, "fingerprint": "bench"}, True, False)
            study.tell(trial, trial.params["x"])
            coord.release(trial)
        else:
            trial = study.ask(dist)
            study.tell(trial, trial.params["x"])
    queue.put((time.perf_counter() - started) * 1000 / k)
    if coordinated:
        coord.close()


def overhead(server: PostgresServer, k: int) -> dict[str, float]:
    """ms of storage work per trial: plain Optuna vs dialsum's coordination, 1 and 3 processes."""
    ctx = multiprocessing.get_context("spawn")
    out: dict[str, float] = {}
    for procs in (1, 3):
        for coordinated in (False, True):
            url, queue = server.create_database(), ctx.Queue()
            workers = [ctx.Process(target=_overhead_worker, args=(url, "o", k, coordinated, queue))
                       for _ in range(procs)]
            for w in workers:
                w.start()
            values = [queue.get(timeout=600) for _ in workers]
            for w in workers:
                w.join()
            key = f"{'dialsum' if coordinated else 'optuna_plain'}_{procs}proc_ms_per_trial"
            out[key] = sum(values) / len(values)
            print(f"  {key}: {out[key]:.1f}", flush=True)
    return out


def recovery(bench: Bench, server: PostgresServer, beat: tuple[int, int]) -> dict[str, float]:
    """Kill a sweeper (own pid namespace) mid-trial; time until the survivor starts the re-queued trial."""
    import optuna
    import psycopg

    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("  recovery: skipped (needs root and unshare to hide the victim's pid)")
        return {}
    url = server.create_database()
    cmd = sweeper_cmd(bench.work, "recovery", url, 4, 1, beat)
    cache = str(bench.work / "cache")
    victim = spawn(bench, cmd, {"FAKE_SLEEP": "600", "DIALSUM_CACHE": cache}, ["unshare", "--pid", "--fork"], "victim")
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if optuna.load_study(study_name="recovery", storage=url).trials:
                break
        except KeyError:
            pass
        time.sleep(0.2)
    survivor = spawn(bench, cmd, {"FAKE_SLEEP": "0.5", "DIALSUM_CACHE": cache}, log="survivor")
    time.sleep(beat[0] * 2 + 3)
    os.killpg(victim.pid, signal.SIGKILL)
    killed = time.time()
    victim.wait()
    survivor.wait(timeout=600)
    trials = optuna.load_study(study_name="recovery", storage=url).trials
    retry = [t for t in trials if t.user_attrs.get("requeued_from") == 0][0]
    with psycopg.connect(url) as conn:  # the last beat as the database recorded it (server clock, UTC-naive)
        last = conn.execute("SELECT extract(epoch from heartbeat at time zone current_setting('TimeZone')) "
                            "FROM trial_heartbeats WHERE trial_id = (SELECT min(trial_id) FROM trials)").fetchone()[0]
    started = retry.datetime_start.timestamp()
    return {"grace_s": beat[1], "heartbeat_interval_s": beat[0], "from_kill_s": started - killed,
            "from_last_heartbeat_s": started - float(last)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--trial-s", type=float, default=3.0)
    parser.add_argument("--overhead-trials", type=int, default=60)
    parser.add_argument("--smoke", action="store_true", help="small sizes (a minute or two), not a measurement")
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.trial_s, args.overhead_trials = 9, 1.0, 15
    bench = Bench("multi_sweeper", f"3 sweepers on one PostgreSQL study >= {TARGET:.0%} of 1 sweeper's trials/hour; "
                  "recovery after SIGKILL <= grace + one ask", args.smoke)
    server = PostgresServer()
    try:
        rates = throughput(bench, server, args.trials, args.trial_s)
        costs = overhead(server, args.overhead_trials)
        beat = (1, 3) if args.smoke else (2, 10)
        rec = recovery(bench, server, beat)
    finally:
        server.stop()
    rate = rates["three_sweepers_1_worker"] / rates["one_sweeper_3_workers"]
    ask_s = costs["dialsum_3proc_ms_per_trial"] / 1000
    rec_ok = not rec or rec["from_last_heartbeat_s"] <= rec["grace_s"] + 1.0 + ask_s + 1.0  # + poll + timestamp rounding
    rows = [("trials x seconds", f"{args.trials} x {args.trial_s:g} s"), *rates.items(), ("ratio 3 vs 1", rate),
            *costs.items(), *rec.items()]
    return bench.finish(rows, rate >= TARGET and rec_ok, {**rates, "ratio": rate, **costs, **rec,
                                                          "trials": args.trials, "trial_s": args.trial_s})


if __name__ == "__main__":
    sys.exit(main())
