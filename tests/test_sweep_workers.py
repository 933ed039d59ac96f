"""Recovery of trials a killed sweep left RUNNING (device claims and CPU shares: test_devices.py)."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import optuna

from dialsum.sweep.retries import recover_interrupted, run_identity
from dialsum.sweep.storage import open_storage
from dialsum.sweep.trial_job import tell


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

    me = run_identity()
    assert recover_interrupted(study, me, tell) == 1
    trials = study.get_trials(deepcopy=False)
    assert trials[orphan.number].state == optuna.trial.TrialState.FAIL
    assert trials[orphan.number].user_attrs["interrupted"] is True
    assert trials[alive.number].state == optuna.trial.TrialState.RUNNING
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == orphan.params
    assert recover_interrupted(study, me, tell) == 0  # idempotent
