"""Worker resources (device claims, CPU shares) and recovery of trials a killed sweep left RUNNING."""
from __future__ import annotations

import multiprocessing as mp
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from dialsum.errors import DialsumError
from dialsum.sweep import devices
from dialsum.sweep.optuna_sweep import recover_interrupted
from dialsum.sweep.storage import open_storage


def _claim_in_child(devices_list: list[int], lock_dir: str, results, hold) -> None:
    """A worker process claims a device and holds it until told to exit."""
    try:
        first = devices.claim_device(devices_list, Path(lock_dir))
        again = devices.claim_device(devices_list, Path(lock_dir))  # a reused worker keeps its device
        results.put((first, again))
    except DialsumError as err:
        results.put(("error", str(err)))
    hold.wait()


def test_each_worker_claims_its_own_device(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    results, hold = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_claim_in_child, args=([0, 1], str(tmp_path), results, hold)) for _ in range(3)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    hold.set()
    for p in procs:
        p.join(timeout=60)
    claimed = sorted(o[0] for o in outcomes if o[0] != "error")
    assert claimed == [0, 1]                                   # two workers, two different GPUs
    assert all(o[0] == o[1] for o in outcomes if o[0] != "error")
    errors = [o[1] for o in outcomes if o[0] == "error"]
    assert len(errors) == 1 and "claimed by other workers" in errors[0]


def test_claims_are_released_when_a_worker_exits(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    results, hold = ctx.Queue(), ctx.Event()
    hold.set()
    for _ in range(2):  # sequential workers get the same, released, device
        p = ctx.Process(target=_claim_in_child, args=([5], str(tmp_path), results, hold))
        p.start()
        assert results.get(timeout=60)[0] == 5
        p.join(timeout=60)


@pytest.mark.parametrize("workers,requested,expected", [(1, None, 2), (2, None, 1), (4, None, 1), (2, 3, 3)])
def test_cpu_threads_split_the_cores(monkeypatch, workers: int, requested, expected: int) -> None:
    monkeypatch.setattr(devices.os, "cpu_count", lambda: 2)
    assert devices.cpu_threads(workers, requested) == expected


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_trials_of_a_killed_sweep_are_failed_and_requeued(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "journal.log"))
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    done = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
    study.tell(done, 0.5)
    orphan = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
    orphan.set_user_attr("sweeper", {"host": socket.gethostname(), "pid": _dead_pid()})
    alive = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
    alive.set_user_attr("sweeper", {"host": socket.gethostname(), "pid": 1})  # a live process: left alone

    assert recover_interrupted(study) == 1
    trials = study.get_trials(deepcopy=False)
    assert trials[orphan.number].state == optuna.trial.TrialState.FAIL
    assert trials[orphan.number].user_attrs["interrupted"] is True
    assert trials[alive.number].state == optuna.trial.TrialState.RUNNING
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == orphan.params
    assert recover_interrupted(study) == 0  # idempotent
