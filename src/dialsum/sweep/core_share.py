"""The sweep's tail: cores of workers that have no trial left serve the generation of the trials still running.

Each of n_jobs local workers starts its trial with cores / n_jobs torch threads (devices.cpu_threads) and trains
on that count to the end: torch's CPU LayerNorm backward sums its weight gradients in per-thread buffers, so
another thread count trains other weights (measured on the sweep demo: the same point ended at ROUGE 0.622 with 1
thread, 0.271 with 2; BENCHMARKS.md). A trial's result must not depend on when other trials ended. Generation
gives the same text at any thread count (checked: predict.py with 1 and 2 threads writes identical files), so
that is where lent cores go. When a worker has nothing to run (the budget is full of running trials, or the
study is done) the sweeper writes the number of its workers still working to a small file; a job reads it
before each evaluation's generation and generates on cores / that number threads, then trains on. The raise is
not timed (the first form timed training steps and undid a raise that was not faster): on a machine busy with
other work, extra threads can make that generation slower; fix hardware.torch_threads or set share_idle_cores
false there. Measured gain on a quiet machine: 1.032x on a 3-trial tail (benchmarks/bench_tail.py).
Written here: no launcher or Trainer callback resizes a running job's threads. Only local launchers (joblib,
submitit_local): a SLURM job owns the CPUs SLURM gave it, and an explicit hardware.torch_threads is never changed.
This module stays free of torch at import (the sweeper process never imports it; the job side imports it late).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dialsum.tracking import atomic

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
        atomic.write_text(self.path, f"{working}\n")  # a unique temp name: two sweepers on one host never collide


class FollowCoreShare:
    """Job side: generate on the cores of the sweep's idle workers; train on the thread count the trial began with."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.logged: int | None = None  # the lent thread count last written to the log

    def available(self) -> int | None:
        """Threads this job may use now: cores / the sweeper's workers still working (None: no share to read)."""
        from dialsum.sweep.devices import cpu_threads

        try:
            active = int(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # the sweep ended or the file is being replaced: lend nothing
            return None
        return cpu_threads(max(1, active), None)

    @contextmanager
    def lent(self) -> Iterator[int]:
        """Run the block on the lent threads (never fewer than the trial's own), then give them back."""
        import torch

        own = torch.get_num_threads()
        threads = max(own, self.available() or own)
        if threads != self.logged and threads > own:
            log.info("idle sweep workers lend their cores: evaluation on %d torch thread(s), training stays on %d",
                     threads, own)
            self.logged = threads
        torch.set_num_threads(threads)
        try:
            yield threads
        finally:
            torch.set_num_threads(own)
