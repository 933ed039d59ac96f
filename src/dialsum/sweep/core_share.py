"""The sweep's tail: cores of workers that have no trial left go to the trials still running on this machine.

Each of n_jobs local workers starts its trial with cores / n_jobs torch threads (devices.cpu_threads). When a
worker has nothing to run (the budget is full of running trials, or the study is done), its cores would idle
until the last trials end. The sweeper keeps a small file with the number of its workers that are working; its
jobs re-read it between training steps (at most once a second) and call torch.set_num_threads(cores / that
number); a waiting worker that gets a trial again (one was re-queued) takes its cores back the same way.
A raise is timed over a few steps and undone when it did not make steps faster: on a machine shared with other
work, extra OpenMP threads wait for cores other processes hold (seen on the development VM: a trial raised to 2
threads beside two busy training processes got slower per step, not faster).
Written here: no launcher or Trainer callback resizes a running job's threads. Only local launchers (joblib,
submitit_local): a SLURM job owns the CPUs SLURM gave it, and an explicit hardware.torch_threads is never changed.
"""
from __future__ import annotations

import logging
import os
import socket
import statistics
import threading
import time
from pathlib import Path

from transformers import TrainerCallback

log = logging.getLogger(__name__)
SHARE_DIR = ".dialsum_cores"   # in the sweep folder: one file per sweeper process
CHECK_EVERY_S = 1.0            # a job reads the file at most this often
WINDOW = 5                     # steps timed before and after a raise to judge it
KEEP_IF_BELOW = 0.95           # a raise is kept when its median step time is below this share of the old one


class CoreShare:
    """Sweeper side: how many of this sweeper's workers are running (or about to run) a trial."""

    def __init__(self, sweep_dir: Path, n_jobs: int, enabled: bool, launcher_target: str) -> None:
        local = "slurm" not in launcher_target.lower()
        self.n_jobs = n_jobs
        self._idle: set[int] = set()
        self._lock = threading.Lock()
        self.path: Path | None = None
        if enabled and local and n_jobs > 1:
            self.path = sweep_dir.resolve() / SHARE_DIR / f"{socket.gethostname()}-{os.getpid()}"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write(n_jobs)

    def set_idle(self, worker_id: int, idle: bool) -> None:
        """A worker waits (budget full of running trials) or is done: its cores go to the running trials;
        it got a trial again: they come back."""
        with self._lock:
            before = len(self._idle)
            if idle:
                self._idle.add(worker_id)
            else:
                self._idle.discard(worker_id)
            if self.path is not None and len(self._idle) != before and len(self._idle) < self.n_jobs:
                self._write(self.n_jobs - len(self._idle))

    def close(self) -> None:
        """The sweep is over: remove the file (a job still reading it keeps its threads)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _write(self, working: int) -> None:
        """Atomic replace, so a job never reads a half-written number."""
        assert self.path is not None
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{working}\n", encoding="utf-8")
        os.replace(tmp, self.path)


class FollowCoreShare(TrainerCallback):
    """Job side: between steps, set torch threads to cores / the sweeper's workers that are working; keep a
    larger count only if it made steps faster (on a machine busy with other work, extra OpenMP threads wait
    on cores other processes hold and every step gets slower)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.checked = 0.0
        self.started = 0.0
        self.times: list[float] = []                # recent step durations at the current thread count
        self.on_trial: tuple[int, float] | None = None  # (threads before a raise, their median step s)
        self.vetoed: set[int] = set()               # thread counts that proved slower in this job

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()
        return control

    def on_step_end(self, args, state, control, **kwargs):
        self.times = [*self.times, time.perf_counter() - self.started][-WINDOW:]
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
        self.times = []
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
        self.times = []
        log.info("sweep workers still working on this machine: %d; this trial now uses %d torch thread(s)",
                 active, threads)
        return threads
