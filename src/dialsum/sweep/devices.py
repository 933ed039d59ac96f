"""Give each parallel worker its share of the machine: one GPU claimed for its lifetime, or CPU threads.

Setting CUDA_VISIBLE_DEVICES per job does not work in a reused joblib worker once CUDA is initialised,
so a worker claims a device with an OS file lock (released when the process exits) and keeps it.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Sequence

from dialsum.errors import DialsumError

log = logging.getLogger(__name__)

_claim: tuple[int, IO[str]] | None = None  # (device, open lock file) held by this process


def claim_device(devices: Sequence[int], lock_dir: Path) -> int:
    """Claim the first free device among `devices` for this process; the same one on every later call."""
    global _claim
    if _claim is not None and _claim[0] in devices:
        return _claim[0]
    lock_dir.mkdir(parents=True, exist_ok=True)
    for device in devices:
        handle = open(lock_dir / f"device{device}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.write(str(os.getpid()))
        handle.flush()
        _claim = (device, handle)
        return device
    raise DialsumError(f"all devices {list(devices)} are claimed by other workers; use at most "
                       f"{len(devices)} parallel jobs (hydra.sweeper.n_jobs) or list more in hardware.devices.")


def cpu_threads(n_workers: int, requested: int | None) -> int:
    """Threads per worker: the cores split evenly, so N workers never oversubscribe the CPU."""
    if requested:
        return int(requested)
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


def configure(hardware, n_workers: int, lock_dir: Path) -> str:
    """Set torch threads and, on GPU, this worker's device; returns a line for the log."""
    import torch

    threads = cpu_threads(n_workers, hardware.get("torch_threads"))
    torch.set_num_threads(threads)
    if hardware.accelerator != "cuda":
        return f"cpu, {threads} torch thread(s)"
    visible = list(hardware.get("devices") or range(torch.cuda.device_count()))
    if n_workers <= 1:
        return f"cuda:{torch.cuda.current_device()}"
    device = claim_device(visible, lock_dir)
    torch.cuda.set_device(device)
    return f"cuda:{device} (claimed by worker pid {os.getpid()})"


def check_hardware(hardware) -> None:
    """fp16/bf16/CUDA without a GPU is a clear error, never a silent switch to CPU."""
    import torch

    wants_gpu = hardware.accelerator == "cuda" or hardware.fp16 or hardware.bf16
    if wants_gpu and not torch.cuda.is_available():
        raise DialsumError("this hardware config needs a CUDA GPU (accelerator=cuda / fp16 / bf16) but none is "
                           "visible (torch.cuda.is_available() is False). Use hardware=cpu, or run on a GPU machine.")
