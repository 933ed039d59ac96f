"""Inside a sweep job: report the objective at every evaluation to Optuna and stop when pruned."""
from __future__ import annotations

import logging
from typing import Any, Mapping

import optuna
from transformers import TrainerCallback

from dialsum.sweep.budget import STEPS_ATTR
from dialsum.sweep.devices import THREADS_ATTR
from dialsum.sweep.pruners import build_pruner
from dialsum.sweep.storage import open_storage

log = logging.getLogger(__name__)
DEVICE_ATTR = "device"  # trial user attr: where the job runs, e.g. "node3 GPU 1 (NVIDIA A100-SXM4-40GB)"


def device_label() -> str:
    """host + the one GPU this process was pinned to (CUDA is initialised by then), else its CPU threads."""
    import os
    import socket

    import torch

    host = socket.gethostname()
    if torch.cuda.is_initialized():
        gpu = os.environ.get("CUDA_VISIBLE_DEVICES", str(torch.cuda.current_device()))
        return f"{host} GPU {gpu} ({torch.cuda.get_device_name(torch.cuda.current_device())})"
    return f"{host} cpu x{torch.get_num_threads()}"


def device_attrs() -> dict[str, Any]:
    """Where the trial runs (`dialsum status`) and, on the CPU, the thread count its rerun must pin."""
    import torch

    attrs: dict[str, Any] = {DEVICE_ATTR: device_label()}
    if not torch.cuda.is_initialized():
        attrs[THREADS_ATTR] = torch.get_num_threads()
    return attrs


def record_device(study_name: str, storage_url: str, number: int) -> None:
    """The device attrs for a trial that gets no bridge (multi-objective: Optuna takes no intermediate values)."""
    storage = open_storage(storage_url)
    trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)
    for key, value in device_attrs().items():
        storage.set_trial_user_attr(trial_id, key, value)


class TrialBridge(TrainerCallback):
    """Reports with step = evaluations done (1, 2, ...), the resource the pruner counts: min_resource=1 can stop a
    trial at its first evaluation, as Ray's grace_period does (0-based steps cost one more)."""

    def __init__(self, trial: optuna.trial.Trial, eval_key: str) -> None:
        self.trial = trial
        self.eval_key = eval_key  # Trainer's key, e.g. eval_rouge_combined_f1
        self.n_reports = 0
        self.pruned = False
        self.last_value: float | None = None

    @classmethod
    def connect(cls, study_name: str, storage_url: str, number: int, pruner_cfg: Mapping[str, Any] | None,
                eval_key: str) -> "TrialBridge":
        """Attach to the trial the sweeper asked for (public Optuna calls, works across processes)."""
        storage = open_storage(storage_url)
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=build_pruner(pruner_cfg))
        study_id = storage.get_study_id_from_name(study_name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        trial = optuna.trial.Trial(study, trial_id)
        for key, value in device_attrs().items():
            trial.set_user_attr(key, value)
        return cls(trial, eval_key)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        value = (metrics or {}).get(self.eval_key)
        if value is None:
            return control
        self.last_value = float(value)
        self.trial.set_user_attr(STEPS_ATTR, int(state.global_step))  # spent so far (budget.steps), even if pruned
        self.n_reports += 1
        self.trial.report(self.last_value, step=self.n_reports)
        if self.trial.should_prune():
            log.info("trial %d pruned after %d evaluation(s) (value %.4f)", self.trial.number,
                     self.n_reports, self.last_value)
            self.pruned = True
            control.should_training_stop = True
        return control


class StopOnSweepInterrupt(TrainerCallback):
    """A job running inside the sweeper's process stops between steps when the sweep is stopping."""

    def on_step_end(self, args, state, control, **kwargs):
        from dialsum.sweep.interrupt import raise_if_stopping

        raise_if_stopping()
        return control
