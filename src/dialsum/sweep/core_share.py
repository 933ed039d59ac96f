"""The sweep's tail: cores of workers that have no trial left go to the trials still running on this machine.

Each of n_jobs local workers starts its trial with cores / n_jobs torch threads (devices.cpu_threads). When a
worker has nothing to run (the budget is full of running trials, or the study is done), its cores would idle
until the last trials end. The sweeper keeps a small file with the number of its workers that are working; its
jobs re-read it between training steps (at most once a second) and call torch.set_num_threads(cores / that
number); a waiting worker that gets a trial again (one was re-queued) takes its cores back the same way.
A raise is timed over a few steps and undone when it did not make steps faster: on a machine shared with other
work, extra OpenMP threads wait for cores other processes hold (seen on the development VM: a trial raised to 2
threads beside two busy training processes got slower per step, not faster).
The job side is dialsum.sweep.bridge.FollowCoreShare (this module stays free of torch and transformers, which
the sweeper process never imports). Written here: no launcher or Trainer callback resizes a running job's threads. Only local launchers (joblib,
submitit_local): a SLURM job owns the CPUs SLURM gave it, and an explicit hardware.torch_threads is never changed.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

log = logging.getLogger(__name__)
SHARE_DIR = ".dialsum_cores"   # in the sweep folder: one file per sweeper process


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
