"""Inside a sweep job: report the objective at every evaluation to Optuna and stop when pruned; take the
cores of the sweep's idle workers (dialsum.sweep.core_share)."""
from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from pathlib import Path
from typing import Any, Mapping

import optuna
from transformers import TrainerCallback

from dialsum.sweep.budget import STEPS_ATTR
from dialsum.sweep.pruners import build_pruner
from dialsum.sweep.storage import open_storage

log = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0   # a job reads the core share (dialsum.sweep.core_share) at most this often
WINDOW = 5            # steps timed before and after a thread raise to judge it
KEEP_IF_BELOW = 0.95  # a raise is kept when its median step time is below this share of the old one
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


def record_device(study_name: str, storage_url: str, number: int) -> None:
    """The device attr for a trial that gets no bridge (multi-objective: Optuna takes no intermediate values)."""
    storage = open_storage(storage_url)
    trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)
    storage.set_trial_user_attr(trial_id, DEVICE_ATTR, device_label())


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
        trial.set_user_attr(DEVICE_ATTR, device_label())  # what `dialsum status` shows for a running trial
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


class FollowCoreShare(TrainerCallback):
    """Job side: between steps, set torch threads to cores / the sweeper's workers that are working; keep a
    larger count only if it made steps faster (on a machine busy with other work, extra OpenMP threads wait
    on cores other processes hold and every step gets slower)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.checked = 0.0
        self.started = 0.0
        self.times: deque[float] = deque(maxlen=WINDOW)  # recent step durations at the current thread count
        self.on_trial: tuple[int, float] | None = None  # (threads before a raise, their median step s)
        self.vetoed: set[int] = set()               # thread counts that proved slower in this job

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()
        return control

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.started)
        self.judge()
        self.refresh()
        return control

    def judge(self) -> None:
        """After WINDOW steps at a raised thread count: keep it if steps got faster, else go back."""
        import torch

        if self.on_trial is None or len(self.times) < WINDOW:
            return
        before, before_s = self.on_trial
        now_s = statistics.median(self.times)
        self.on_trial = None
        if now_s <= before_s * KEEP_IF_BELOW:
            return
        raised = torch.get_num_threads()
        self.vetoed.add(raised)
        torch.set_num_threads(before)
        self.times.clear()
        log.info("%d torch threads were not faster (%.0f ms per step vs %.0f ms with %d): the machine is busy "
                 "with other work; back to %d", raised, now_s * 1e3, before_s * 1e3, before, before)

    def refresh(self, force: bool = False) -> int | None:
        """Read the share (rate-limited unless forced); the new thread count when it changed, else None."""
        import torch

        from dialsum.sweep.devices import cpu_threads

        now = time.monotonic()
        if not force and now - self.checked < CHECK_EVERY_S:
            return None
        self.checked = now
        try:
            active = int(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # the sweep ended or the file is being replaced: keep what we have
            return None
        threads, current = cpu_threads(max(1, active), None), torch.get_num_threads()
        if threads == current or threads in self.vetoed:
            return None
        raising = threads > current and len(self.times) >= 2
        self.on_trial = (current, statistics.median(self.times)) if raising else None
        torch.set_num_threads(threads)
        self.times.clear()
        log.info("sweep workers still working on this machine: %d; this trial now uses %d torch thread(s)",
                 active, threads)
        return threads
