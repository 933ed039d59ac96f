"""The submitit sweep of test_submitit.py through a real SLURM (hydra/launcher=submitit_slurm).

Needs a running SLURM with a partition (default `debug`, or $DIALSUM_TEST_PARTITION): `make test-cluster`
sets one up on this machine (scripts/slurm/setup_single_node.sh, as root) and runs these tests. Without
SLURM they are skipped; they are excluded from `make test` by their `cluster` marker.
"""
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

from conftest import ROOT, run_cli
from test_submitit import (BAYES, FAKE, _wait_for_long_job, check_bayes_sweep, check_preempted_and_requeued, load,
                           sweep_args)

S = optuna.trial.TrialState
PARTITION = os.environ.get("DIALSUM_TEST_PARTITION", "debug")
pytestmark = pytest.mark.cluster


def _slurm_up() -> bool:
    """Is there a SLURM controller with our partition?"""
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%a"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "up" in out.stdout


@pytest.fixture(scope="module", autouse=True)
def slurm() -> None:
    if not _slurm_up():
        pytest.skip(f"no SLURM partition {PARTITION!r} here: run `make test-cluster` (as root) to set one up")


def slurm_args(sweep_dir: Path, *extra: str) -> list[str]:
    """The test_submitit sweep, submitted to SLURM."""
    return sweep_args(sweep_dir, "submitit_slurm", f"hydra.launcher.partition={PARTITION}",
                      "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", *extra)


def test_bayes_sweep_through_slurm_keeps_n_jobs_in_flight_and_prunes(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    times = tmp_path / "times.jsonl"
    env = {"FAKE_REPORT": "1", "FAKE_PRUNE": "1", "FAKE_TIMES": str(times), "FAKE_SLEEP": "0.5",
           "FAKE_LONG_ONCE": str(tmp_path / "long"), "FAKE_LONG_S": "20"}
    result = run_cli(slurm_args(sweep_dir, *BAYES, "hydra.sweeper.n_trials=6"), tmp_path, cache_dir, script=FAKE,
                     timeout=600, env_extra=env)
    check_bayes_sweep(sweep_dir, times, result, 6)
    job_ids = {Path(os.readlink(Path(t.user_attrs["job_dir"]) / "submitit.out")).parent.name for t in load(sweep_dir).trials}
    assert len(job_ids) == 6 and all(j.isdigit() for j in job_ids), job_ids   # one SLURM job per trial


def test_scancel_requeues_the_trial(tmp_path: Path, cache_dir: Path) -> None:
    """scancel (SIGTERM, as for preemption) of a running trial's job: interrupted, params re-queued, and the
    sweep completes; SLURM does not rerun the cancelled job itself (--no-requeue)."""
    sweep_dir = tmp_path / "multirun" / "test"
    marker = tmp_path / "long"
    jobs_log = tmp_path / "jobs.log"
    env = {"FAKE_SLEEP": "0.5", "FAKE_LONG_ONCE": str(marker), "FAKE_LONG_S": "120", "HF_HUB_OFFLINE": "1",
           "DIALSUM_CACHE": str(cache_dir), "FAKE_LOG": str(jobs_log)}
    args = slurm_args(sweep_dir, *BAYES, "hydra.sweeper.pruner.name=none", "hydra.sweeper.n_trials=3")
    proc = subprocess.Popen([sys.executable, str(ROOT / FAKE), *args], cwd=tmp_path, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = _wait_for_long_job(marker)
    job_id = _slurm_job_of(victim["pid"])
    subprocess.run(["scancel", job_id], check=True, timeout=30)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-4000:]
    check_preempted_and_requeued(load(sweep_dir), victim["number"], out)
    runs = [json.loads(line)["number"] for line in jobs_log.read_text().splitlines()]
    assert runs.count(victim["number"]) == 1, runs    # SLURM did not rerun the cancelled trial's job


def _slurm_job_of(pid: int) -> str:
    """The SLURM job id a process runs in (from its environment)."""
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next(e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"SLURM_JOB_ID="))


def test_stopping_the_sweep_cancels_its_slurm_jobs(tmp_path: Path, cache_dir: Path) -> None:
    """SIGTERM to the sweeper (its own preemption, docker stop): the SLURM jobs in flight are not its children,
    so it scancels them; their trials are interrupted and re-queued, and rerunning the command finishes."""
    sweep_dir = tmp_path / "multirun" / "test"
    jobs_log = tmp_path / "jobs.log"
    env = {"FAKE_SLEEP": "120", "FAKE_LOG": str(jobs_log), "HF_HUB_OFFLINE": "1", "DIALSUM_CACHE": str(cache_dir)}
    args = slurm_args(sweep_dir, *BAYES, "hydra.sweeper.pruner.name=none", "hydra.sweeper.n_trials=4")
    proc = subprocess.Popen([sys.executable, str(ROOT / FAKE), *args], cwd=tmp_path, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(_lines(jobs_log)) < 2:
        time.sleep(0.5)
    assert len(_lines(jobs_log)) == 2, "two jobs never started"
    job_ids = [p.name for p in (sweep_dir / ".submitit").iterdir() if p.name.isdigit()]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-4000:]
    queued = subprocess.run(["squeue", "-h", "-o", "%i %T", "-j", ",".join(job_ids)], capture_output=True,
                            text=True, timeout=30).stdout
    assert "RUNNING" not in queued and "PENDING" not in queued, queued
    study = load(sweep_dir)
    stopped = [t for t in study.trials if t.state == S.FAIL]
    assert len(stopped) == 2 and all(t.user_attrs.get("interrupted") for t in stopped), out[-4000:]
    assert {t.user_attrs["requeued_from"] for t in study.trials if t.state == S.WAITING} == {t.number for t in stopped}

    rerun = run_cli(args, tmp_path, cache_dir, script=FAKE, timeout=300, env_extra={"FAKE_SLEEP": "0.5"})
    assert rerun.returncode == 0, rerun.stderr[-3000:]           # the same command resumes the study
    complete = [t for t in load(sweep_dir).trials if t.state == S.COMPLETE]
    assert len(complete) == 4 and {t.params["training.learning_rate"] for t in stopped} <= {
        t.params["training.learning_rate"] for t in complete}


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
