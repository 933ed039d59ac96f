"""A process that ran a job exits without walking its whole heap one last time.

Interpreter shutdown ends with a full garbage collection over every object torch, transformers and Kiwi
created (1.37 s of exit on the dev VM, 0.20 s with this: benchmarks/bench_exit.py), paid by every `train.py`
run and every sweep worker process when the sweep ends. `gc.freeze()` from an exit hook moves those objects out of the collector's reach;
the process is going away, so nothing is lost: atexit hooks (logging, W&B, temp dirs) still run, and objects
are still released by reference counting. Written by hand: no library offers it.
"""
from __future__ import annotations

import atexit
import gc

_installed = False


def install() -> None:
    """Freeze the heap at exit, once per process (jobs run many times in one sweep worker)."""
    global _installed
    if not _installed:
        _installed = True
        atexit.register(gc.freeze)
