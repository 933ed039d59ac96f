"""dialsum's sweeper through hydra-submitit-launcher (hydra/launcher=submitit_local): one job per trial, n_jobs
in flight with no batch barrier, pruning decided inside the job, a SIGTERM'd job re-queued, resume. The jobs
are real submitit jobs (separate processes started by submitit) running the fake app (tests/fake_app.py).
The same sweep through a real SLURM: tests/test_cluster.py (make test-cluster)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from conftest import ROOT, run_cli
from dialsum.errors import DialsumError
from dialsum.sweep import devices, submitit_jobs, worker_check
from dialsum.sweep.storage import open_storage
from test_devices import gpu_cfg, host, new_worker  # noqa: F401 - `host`: a simulated 2-GPU host (fixture)

S = optuna.trial.TrialState
FAKE = "tests/fake_app.py"
# A Bayesian (TPE) sweep whose jobs report to a median pruner: a trial worse than the finished ones at step 0
# is pruned inside its job, through the journal storage.
BAYES = ["hydra.sweeper.sampler.name=tpe", "hydra.sweeper.sampler.seed=3", "hydra.sweeper.sampler.n_startup_trials=2",
         "hydra.sweeper.pruner.name=median", "hydra.sweeper.pruner.n_startup_trials=1",
         "hydra.sweeper.pruner.n_warmup_steps=0", "training.learning_rate=tag(log, interval(1e-4, 3e-3))",
         "training.per_device_train_batch_size=choice(4, 8)"]


def sweep_args(sweep_dir: Path, launcher: str, *extra: str) -> list[str]:
    """A fake-job Optuna sweep in sweep_dir through a submitit launcher, 2 jobs at once."""
    return ["-m", "hydra/sweeper=optuna", f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep_dir}",
            "hydra.sweeper.study_name=test", "hydra.sweeper.n_jobs=2", "hydra.launcher.timeout_min=10", *extra]


def load(sweep_dir: Path) -> optuna.Study:
    """The study in the sweep folder's journal."""
    return optuna.load_study(study_name="test", storage=open_storage(str(sweep_dir / "optuna_journal.log")))


def events(path: Path) -> list[dict]:
    """FAKE_TIMES lines."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def spans(path: Path) -> dict[int, tuple[float, float]]:
    """trial number -> (start, end) of every job that ended (completed or pruned)."""
    ev = events(path)
    starts = {e["number"]: e["t"] for e in ev if e["event"] == "start"}
    return {e["number"]: (starts[e["number"]], e["t"]) for e in ev if e["event"] in ("end", "pruned")}


def check_bayes_sweep(sweep_dir: Path, times: Path, result: subprocess.CompletedProcess, n_trials: int) -> None:
    """n_jobs=2 kept 2 jobs in flight (no batch barrier), the pruner stopped a trial, logs sit in job folders."""
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    study = load(sweep_dir)
    states = [t.state for t in study.trials]
    assert len(states) == n_trials and S.RUNNING not in states and S.FAIL not in states, states
    assert S.PRUNED in states, states
    assert all(t.intermediate_values for t in study.trials)             # every job reported through the storage
    run = spans(times)
    long_number = min(run, key=lambda n: run[n][0] - run[n][1])          # the job that ran FAKE_LONG_S
    lo, hi = run[long_number]
    inside = [n for n, (a, b) in run.items() if n != long_number and a > lo and b < hi]
    assert len(inside) >= 2, run   # the other worker ran several trials meanwhile: no batch barrier
    points = sorted(t for a, b in run.values() for t in (a, b))
    most = max(sum(1 for a, b in run.values() if a <= t < b) for t in points)
    assert most == 2, run          # never more than n_jobs at once
    for t in study.trials:
        job_dir = Path(t.user_attrs["job_dir"])
        assert (job_dir / "submitit.out").resolve().is_file(), job_dir    # submitit's log, linked in
        assert "submitit" in (job_dir / "submitit.out").read_text()


def test_two_trials_run_as_two_submitit_jobs_at_once(tmp_path: Path, cache_dir: Path) -> None:
    """The fast smoke test of the path (the slow tests below check barrier, pruning, SIGTERM and resume)."""
    sweep_dir = tmp_path / "multirun" / "test"
    times = tmp_path / "times.jsonl"
    result = run_cli(sweep_args(sweep_dir, "submitit_local", *BAYES, "hydra.sweeper.n_trials=2"), tmp_path,
                     cache_dir, script=FAKE, timeout=120, env_extra={"FAKE_TIMES": str(times), "FAKE_SLEEP": "1"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    trials = load(sweep_dir).trials
    assert [t.state for t in trials] == [S.COMPLETE, S.COMPLETE]
    (a0, b0), (a1, b1) = spans(times).values()
    assert a0 < b1 and a1 < b0                                            # both jobs ran at the same time
    assert len({e["pid"] for e in events(times)}) == 2
    assert all((Path(t.user_attrs["job_dir"]) / "submitit.out").resolve().is_file() for t in trials)


@pytest.mark.slow
def test_bayes_sweep_keeps_n_jobs_in_flight_and_prunes(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    times = tmp_path / "times.jsonl"
    env = {"FAKE_REPORT": "1", "FAKE_PRUNE": "1", "FAKE_TIMES": str(times), "FAKE_SLEEP": "0.5",
           "FAKE_LONG_ONCE": str(tmp_path / "long"), "FAKE_LONG_S": "20"}
    result = run_cli(sweep_args(sweep_dir, "submitit_local", *BAYES, "hydra.sweeper.n_trials=6"), tmp_path,
                     cache_dir, script=FAKE, timeout=300, env_extra=env)
    check_bayes_sweep(sweep_dir, times, result, 6)


@pytest.mark.slow
def test_sigtermed_job_is_requeued_and_a_rerun_resumes(tmp_path: Path, cache_dir: Path) -> None:
    """SIGTERM to a running job (what SLURM preemption and scancel send): interrupted, params re-queued, the
    sweep goes on; rerunning the same command with more trials resumes the study."""
    sweep_dir = tmp_path / "multirun" / "test"
    times = tmp_path / "times.jsonl"
    env = {"FAKE_TIMES": str(times), "FAKE_SLEEP": "0.5", "FAKE_LONG_ONCE": str(tmp_path / "long"),
           "FAKE_LONG_S": "60", "HF_HUB_OFFLINE": "1", "DIALSUM_CACHE": str(cache_dir)}
    args = sweep_args(sweep_dir, "submitit_local", *BAYES, "hydra.sweeper.pruner.name=none")
    proc = subprocess.Popen([sys.executable, str(ROOT / FAKE), *args, "hydra.sweeper.n_trials=3"], cwd=tmp_path,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = _wait_for_long_job(tmp_path / "long")
    os.kill(victim["pid"], signal.SIGTERM)                      # the job process itself, as slurmd would
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    check_preempted_and_requeued(load(sweep_dir), victim["number"], out)

    rerun = run_cli([*args, "hydra.sweeper.n_trials=4"], tmp_path, cache_dir, script=FAKE, timeout=120,
                    env_extra={"FAKE_SLEEP": "0.5"})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "1 trial(s) to run" in rerun.stdout + rerun.stderr
    assert len([t for t in load(sweep_dir).trials if t.state == S.COMPLETE]) == 4


def check_preempted_and_requeued(study: optuna.Study, number: int, out: str) -> None:
    """Trial `number` alone ended interrupted (JobPreempted) and its params ran again once; 3 trials complete."""
    stopped = [t for t in study.trials if t.state == S.FAIL]
    assert [t.number for t in stopped] == [number], out[-4000:]
    assert stopped[0].user_attrs.get("interrupted") and "JobPreempted" in stopped[0].user_attrs["error"]
    retry = [t for t in study.trials if t.user_attrs.get("requeued_from") == number]
    assert len(retry) == 1 and retry[0].state == S.COMPLETE and retry[0].params == stopped[0].params
    assert len([t for t in study.trials if t.state == S.COMPLETE]) == 3   # nothing lost: n_trials still met


def _wait_for_long_job(marker: Path, timeout: float = 60) -> dict:
    """{pid, number} of the job that sleeps FAKE_LONG_S, once it is well into its sleep."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if marker.exists() and marker.read_text().strip():
            time.sleep(1.0)
            return json.loads(marker.read_text())
        time.sleep(0.2)
    raise AssertionError("the long job never started")


# ---- GPUs: SLURM gives each job its own; submitit_local jobs claim slots like joblib workers ----------------


def _launcher(kind: str, **params):
    """hydra-submitit-launcher's launcher as Hydra builds it, wrapped as dialsum's sweeper uses it."""
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher

    return submitit_jobs.wrap((SlurmLauncher if kind == "slurm" else LocalLauncher)(
        submitit_folder="unused/%j", **params))


def test_a_slurm_job_uses_its_gpu_whatever_the_node_claims(host, tmp_path: Path, monkeypatch) -> None:
    hardware = gpu_cfg("hardware.devices=[0]").hardware
    devices.configure(hardware, 1, tmp_path)            # a run outside SLURM holds the node's GPU 0 slot
    for job_id in ("41", "42"):                         # two SLURM jobs on that node, each given "its" GPU 0
        new_worker(monkeypatch, host)
        monkeypatch.setenv("SLURM_JOB_ID", job_id)
        monkeypatch.setenv("SLURM_JOB_GPUS", "0")
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
        placement = devices.configure(gpu_cfg().hardware, 8, tmp_path)
        assert placement.device == "cuda:0" and f"SLURM job {job_id}" in str(placement)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["slurm-job-41", "slurm-job-42"]


def test_sweeper_does_not_count_local_gpus_for_slurm(host, monkeypatch) -> None:
    monkeypatch.setattr(devices, "host_gpus", lambda: [])   # a login node without GPUs
    worker_check.check_workers(gpu_cfg().hardware, 8, _launcher("slurm", gpus_per_node=1, partition="gpu"))
    with pytest.raises(DialsumError, match="gpus_per_node=1"):
        worker_check.check_workers(gpu_cfg().hardware, 8, _launcher("slurm", partition="gpu"))
    worker_check.check_workers(gpu_cfg("hardware=cpu").hardware, 8, _launcher("slurm", partition="cpu"))


def test_submitit_local_jobs_see_every_gpu_and_claim_one(host) -> None:
    launcher = _launcher("local")
    worker_check.check_workers(gpu_cfg().hardware, 2, launcher)
    assert launcher.params["gpus_per_node"] == 2     # submitit_local would otherwise hide the GPUs from jobs
    with pytest.raises(DialsumError, match="n_jobs=3 is more than the 2 GPU slot"):
        worker_check.check_workers(gpu_cfg().hardware, 3, _launcher("local"))


def test_a_slurm_job_uses_the_cpus_slurm_gave_it(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)          # the node's cores, not this job's
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "6")
    assert devices.cpu_threads(8, None) == 6                   # not 64 // 8
    monkeypatch.delenv("SUBMITIT_EXECUTOR")                    # a joblib sweep inside one allocation: split it
    assert devices.cpu_threads(8, None) == 8
