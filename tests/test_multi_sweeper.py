"""Several sweeper processes on one PostgreSQL study (issue 11): one budget, no point trained twice at once,
a SIGKILLed sweeper's trial picked up by the others after its heartbeat goes stale. A real PostgreSQL server
(tests/postgres.py), the real sweeper CLI, fake jobs (tests/fake_app.py), so each test takes seconds."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from conftest import ROOT
from dialsum.sweep import retries

S = optuna.trial.TrialState
FAKE = str(ROOT / "tests" / "fake_app.py")
SPACE = ["training.learning_rate=choice(1e-3, 3e-3, 1e-2)", "training.per_device_train_batch_size=choice(4, 8)"]
GRID = ["hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none", *SPACE]
TPE = ["hydra.sweeper.sampler.name=tpe", "hydra.sweeper.sampler.n_startup_trials=2", "hydra.sweeper.pruner.name=none",
       *SPACE]
BEAT = ["hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=3"]


def sweeper_args(sweep_dir: Path, url: str, *extra: str, beat: list[str] = BEAT) -> list[str]:
    """One sweeper of study 'multi' on the PostgreSQL database `url`."""
    return [FAKE, "-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=multi",
            f"hydra.sweeper.storage='{url}'", *beat, *extra]


def start(args: list[str], cwd: Path, cache_dir: Path, env: dict[str, str], prefix: list[str] | None = None,
          log: Path | None = None) -> subprocess.Popen:
    """A sweeper process in its own process group (killing it kills its jobs too, like a lost machine)."""
    full_env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", **env}
    out = open(log, "w") if log else subprocess.PIPE
    return subprocess.Popen([*(prefix or []), sys.executable, *args], cwd=cwd, env=full_env, stdout=out,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def load(url: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as stored (a URL, or a journal file path)."""
    from dialsum.sweep.storage import open_storage

    return optuna.load_study(study_name="multi", storage=open_storage(url)).trials


def counted(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Finished trials that count toward n_trials (re-queued ones are replaced by their retry)."""
    skip = retries.requeued_numbers(trials)
    return [t for t in trials if t.state.is_finished() and t.number not in skip]


def job_starts(log: Path) -> dict[int, float]:
    """Trial number -> when its job started training (FAKE_LOG)."""
    return {row["number"]: row["t"] for row in map(json.loads, log.read_text().splitlines())}


def assert_never_trained_twice_at_once(trials: list[optuna.trial.FrozenTrial], starts: dict[int, float]) -> None:
    """Two trainings of one point never overlap: the later one started after the earlier one ended."""
    trained = sorted((t for t in trials if t.number in starts), key=lambda t: starts[t.number])
    for i, a in enumerate(trained):
        for b in trained[i + 1:]:
            if a.params == b.params:
                assert a.datetime_complete is not None and starts[b.number] >= a.datetime_complete.timestamp() - 0.05, \
                    (a.number, b.number, a.params)


def run_three(tmp_path: Path, cache_dir: Path, url: str, space: list[str], n_trials: int) -> list:
    """Three sweepers, the same command, one study; returns the study's trials."""
    log = tmp_path / "jobs.jsonl"
    env = {"FAKE_SLEEP": "1", "FAKE_LOG": str(log)}
    args = sweeper_args(tmp_path / "multirun" / "multi", url, *space, f"hydra.sweeper.n_trials={n_trials}")
    procs = [start(args, tmp_path, cache_dir, env) for _ in range(3)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    trials = load(url)
    assert not [t for t in trials if t.state in (S.RUNNING, S.WAITING)]
    assert len(counted(trials)) == n_trials, [(t.number, t.state.name) for t in trials]
    assert len({(t.user_attrs["sweeper"]["pid"]) for t in trials}) >= 2   # the work was shared
    assert_never_trained_twice_at_once(trials, job_starts(log))
    results = (tmp_path / "multirun" / "multi" / "all_results.jsonl").read_text().splitlines()
    assert len(results) == len(trials)                                   # the last one out wrote the whole study
    return trials


# slow: ~17 s; the TPE-budget and journal tests keep sharing one study in the fast run
@pytest.mark.slow
def test_three_sweepers_share_one_grid(tmp_path: Path, cache_dir: Path, postgres_url: str) -> None:
    trials = run_three(tmp_path, cache_dir, postgres_url, GRID, n_trials=6)
    assert len(trials) == 6 and all(t.state == S.COMPLETE for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6   # no grid point trained twice
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    status = subprocess.run([sys.executable, "-m", "dialsum", "status", postgres_url, "--study", "multi"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "6 complete" in status.stdout, status.stdout + status.stderr
    report = subprocess.run([sys.executable, "-m", "dialsum", "report", postgres_url, "--study", "multi", "--out",
                             str(tmp_path / "rebuilt")], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)                                   # the outputs rebuilt from the storage alone
    assert report.returncode == 0 and (tmp_path / "rebuilt" / "report.html").is_file(), report.stdout + report.stderr


def test_three_sweepers_share_one_tpe_budget(tmp_path: Path, cache_dir: Path, postgres_url: str) -> None:
    trials = run_three(tmp_path, cache_dir, postgres_url, TPE, n_trials=6)
    assert len(trials) == 6 and all(t.state == S.COMPLETE for t in trials)  # 6, not 18
    for t in trials:                                                         # a repeated point reused a result
        if "duplicate_of" in t.user_attrs:
            assert t.values == trials[t.user_attrs["duplicate_of"]].values


def _in_other_pid_namespace() -> list[str]:
    """`unshare --pid --fork`: a sweeper this machine cannot see as its own (as if on another host)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to put a sweeper in its own pid namespace")
    return ["unshare", "--pid", "--fork", "--uts"]


# slow: ~15 s; test_sweep_workers' grace-period test covers the recovery rule in the fast run
@pytest.mark.slow
def test_sigkilled_sweeper_trial_is_requeued_after_the_grace_period(tmp_path: Path, cache_dir: Path,
                                                                   postgres_url: str) -> None:
    """Only the heartbeat can tell (the victim runs in its own pid namespace): the survivor waits out the
    grace period, fails the trial, re-queues and completes it; nothing is lost or run twice."""
    log = tmp_path / "jobs.jsonl"
    args = sweeper_args(tmp_path / "multirun" / "multi", postgres_url, *GRID, "hydra.sweeper.n_trials=6")
    victim = start(args, tmp_path, cache_dir, {"FAKE_SLEEP": "20", "FAKE_LOG": str(log)},
                   prefix=_in_other_pid_namespace(), log=tmp_path / "victim.log")
    deadline = time.time() + 120
    while not (log.exists() and log.read_text().strip()) and time.time() < deadline:  # its trial 0 trains
        time.sleep(0.2)
    survivor = start(args, tmp_path, cache_dir, {"FAKE_SLEEP": "1", "FAKE_LOG": str(log)})
    time.sleep(2)
    os.killpg(victim.pid, signal.SIGKILL)
    killed_at = time.time()
    victim.wait()
    out = survivor.communicate(timeout=240)[0]
    assert survivor.returncode == 0, out[-3000:]
    trials = load(postgres_url)
    assert not [t for t in trials if t.state in (S.RUNNING, S.WAITING)]
    complete = [t for t in trials if t.state == S.COMPLETE]
    assert len(counted(trials)) == 6 and len(complete) == 6
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 6   # nothing lost, nothing twice
    lost = trials[0]
    assert lost.state == S.FAIL
    retry = [t for t in trials if t.user_attrs.get("requeued_from") == 0]
    assert len(retry) == 1 and retry[0].params == lost.params and retry[0].state == S.COMPLETE
    assert retry[0].user_attrs["requeue_reason"] == "heartbeat stale"
    assert retry[0].datetime_start.timestamp() >= killed_at + 3 - 1.5   # only after the grace period
    assert "stopped beating for longer than the grace period" in out


class Namespaces:
    """Network + UTS + pid namespaces per sweeper, each its own hostname, PostgreSQL reached over a veth pair:
    as close to separate hosts as one machine gets. Root only; everything is removed in close()."""

    def __init__(self, n: int) -> None:
        self.tag = f"{os.getpid() % 0xFFFF:04x}"
        self.names: list[str] = []
        for i in range(1, n + 1):
            ns, host, peer, net = f"ds{self.tag}n{i}", f"ds{self.tag}h{i}", f"ds{self.tag}p{i}", f"10.231.{i}"
            self.names.append(ns)
            for cmd in (f"ip netns add {ns}", f"ip link add {host} type veth peer name {peer}",
                        f"ip link set {peer} netns {ns}", f"ip addr add {net}.1/24 dev {host}", f"ip link set {host} up",
                        f"ip netns exec {ns} ip addr add {net}.2/24 dev {peer}",
                        f"ip netns exec {ns} ip link set {peer} up", f"ip netns exec {ns} ip link set lo up"):
                subprocess.run(cmd.split(), check=True, capture_output=True)

    def prefix(self, i: int) -> list[str]:
        """Run a command in namespace i (1-based) with hostname machine-i."""
        return ["ip", "netns", "exec", self.names[i - 1], "unshare", "--uts", "--pid", "--fork", "sh", "-c",
                f'hostname machine-{i} && exec "$@"', "sh"]

    def close(self) -> None:
        """Delete the namespaces and the host ends of the veth pairs."""
        for i, ns in enumerate(self.names, start=1):
            subprocess.run(["ip", "link", "del", f"ds{self.tag}h{i}"], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.slow
def test_sweepers_on_three_hosts_share_one_study(tmp_path: Path, cache_dir: Path, postgres_server) -> None:
    """Three 'hosts' (own network, hostname, pids; PostgreSQL at 10.231.i.1 over veth): one budget, and a host
    SIGKILLed mid-trial loses nothing — there is no hostname or pid logic left to rely on."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        pytest.skip("needs root, ip(8) and unshare(1)")
    url = postgres_server.create_database()
    database = url.rsplit("/", 1)[1]
    log = tmp_path / "jobs.jsonl"
    spaces = Namespaces(3)
    try:
        procs = []
        for i in (1, 2, 3):
            args = sweeper_args(tmp_path / "multirun" / "multi", postgres_server.url(database, host=f"10.231.{i}.1"),
                                *GRID, "hydra.sweeper.n_trials=6")
            sleep = "30" if i == 3 else "1"   # machine 3's trial is long: it is lost when the machine dies
            procs.append(start(args, tmp_path, cache_dir, {"FAKE_SLEEP": sleep, "FAKE_LOG": str(log)},
                               prefix=spaces.prefix(i), log=tmp_path / f"machine{i}.log"))
        deadline = time.time() + 120
        while time.time() < deadline and not any(
                t.state == S.RUNNING and t.user_attrs.get("sweeper", {}).get("host") == "machine-3"
                for t in _trials_or_empty(url)):
            time.sleep(0.3)
        time.sleep(1)
        os.killpg(procs[2].pid, signal.SIGKILL)
        for p, i in zip(procs[:2], (1, 2)):
            assert p.wait(timeout=240) == 0, (tmp_path / f"machine{i}.log").read_text()[-3000:]
        procs[2].wait()
    finally:
        spaces.close()
    trials = load(url)
    assert {t.user_attrs["sweeper"]["host"] for t in trials} == {"machine-1", "machine-2", "machine-3"}
    assert not [t for t in trials if t.state in (S.RUNNING, S.WAITING)]
    complete = [t for t in trials if t.state == S.COMPLETE]
    assert len(counted(trials)) == 6 and len(complete) == 6
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 6
    lost = [t for t in trials if t.state == S.FAIL]
    assert lost and all(t.user_attrs["sweeper"]["host"] == "machine-3" for t in lost)
    assert_never_trained_twice_at_once(trials, job_starts(log))


def _trials_or_empty(url: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials, [] before a sweeper created it."""
    try:
        return load(url)
    except KeyError:
        return []


@pytest.mark.slow  # moved from the fast run (it measured 10 min 29 s with the venv install): 12 s, a PostgreSQL restart
def test_a_restarted_database_server_loses_no_trial(tmp_path: Path, cache_dir: Path, postgres_server) -> None:
    """Every pooled connection dies with the server: pool_pre_ping replaces them, the running trial's tell
    and the heartbeats go on, the sweep ends with every point COMPLETE."""
    url = postgres_server.create_database()
    log = tmp_path / "jobs.jsonl"
    slow_beat = ["hydra.sweeper.heartbeat_interval=30", "hydra.sweeper.grace_period=60"]  # the tell meets it first
    args = sweeper_args(tmp_path / "multirun" / "multi", url, *GRID, "hydra.sweeper.n_trials=2", beat=slow_beat)
    proc = start(args, tmp_path, cache_dir, {"FAKE_SLEEP": "4", "FAKE_LOG": str(log)})
    deadline = time.time() + 120
    while not (log.exists() and log.read_text().strip()) and time.time() < deadline:
        time.sleep(0.2)
    postgres_server.restart()
    out = proc.communicate(timeout=240)[0]
    assert proc.returncode == 0, out[-3000:]
    trials = load(url)
    assert [t.state for t in trials] == [S.COMPLETE] * 2, [(t.number, t.state.name, t.user_attrs.get("error"))
                                                          for t in trials]


def test_two_sweepers_on_one_journal_file_share_the_budget(tmp_path: Path, cache_dir: Path) -> None:
    """One machine, no database: the default journal file, locked with flock beside it, heartbeats as attributes."""
    log = tmp_path / "jobs.jsonl"
    sweep_dir = tmp_path / "multirun" / "multi"
    args = [FAKE, "-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=multi",
            *BEAT, *GRID, "hydra.sweeper.n_trials=6"]
    procs = [start(args, tmp_path, cache_dir, {"FAKE_SLEEP": "1", "FAKE_LOG": str(log)}) for _ in range(2)]
    for p in procs:
        out = p.communicate(timeout=240)[0]
        assert p.returncode == 0, out[-3000:]
    trials = load(str(sweep_dir / "optuna_journal.log"))
    assert len(trials) == 6 and all(t.state == S.COMPLETE for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6
    assert len({t.user_attrs["sweeper"]["pid"] for t in trials}) == 2
    assert all(t.system_attrs.get("dialsum:heartbeat") for t in trials)
