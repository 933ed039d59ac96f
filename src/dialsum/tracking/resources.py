"""This run's own resources for metrics.json: the device it used, its peak GPU memory and peak RSS.

A sweep worker runs many trials in one process, and both process counters only grow (ru_maxrss,
torch.cuda.max_memory_allocated), so each run resets them when it starts. RSS: writing "5" to
/proc/self/clear_refs resets the kernel's VmHWM high-water mark for this process (Linux >= 4.0, no
privileges; checked on the dev machine: 317 MB -> 10 MB), exact and free. Where that is refused
(another OS, a hardened kernel) a psutil thread samples RSS every 50 ms instead (may miss short spikes).
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

MB = 1024 * 1024
KB_PER_MB = 1024
SAMPLE_S = 0.05
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


class _RssSampler(threading.Thread):
    """Fallback peak RSS where VmHWM cannot be reset: the largest sampled RSS since start."""

    def __init__(self) -> None:
        super().__init__(name="dialsum-rss-sampler", daemon=True)
        import psutil

        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_S):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def peak_mb(self) -> float:
        """Peak including the current RSS."""
        return max(self.peak, self.process.memory_info().rss) / MB


_run: dict[str, Any] = {}  # this process's current run: started_at, and the RSS sampler when one is needed


def begin_run(accelerator: str) -> None:
    """Reset this process's peak counters: what follows belongs to this run only."""
    if isinstance(_run.get("sampler"), _RssSampler):
        _run["sampler"].stopped.set()
    _run.clear()
    _run["started_at"] = time.time()
    if not _reset_vm_hwm():
        _run["sampler"] = _RssSampler()
        _run["sampler"].start()
    if accelerator == "cuda":
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # cached blocks of an earlier run would count as this run's reserve
            torch.cuda.reset_peak_memory_stats()


def gpu_peak_during(device: Any, fn: Any) -> int:
    """Run fn; return the GPU bytes it held at its peak above what was allocated before. The run's own peak
    so far is kept as a floor that peak_memory_mb reports, since this resets torch's peak counter."""
    import torch

    allocated, reserved = _run.get("gpu_floor", (0, 0))
    _run["gpu_floor"] = (max(allocated, torch.cuda.max_memory_allocated(device)),
                         max(reserved, torch.cuda.max_memory_reserved(device)))
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    return torch.cuda.max_memory_allocated(device) - before


def _reset_vm_hwm() -> bool:
    """Linux: reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
        return _vm_hwm_kb() is not None
    except OSError:
        return False


def _vm_hwm_kb() -> int | None:
    """VmHWM (peak RSS since the last reset) in kB, None when /proc is unavailable."""
    try:
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _peak_rss_mb() -> float:
    """This run's peak RSS (process-lifetime peak when no run was begun)."""
    sampler = _run.get("sampler")
    if sampler is not None:
        return sampler.peak_mb()
    kb = _vm_hwm_kb()
    if kb is None:
        import resource
        import sys

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (KB_PER_MB if sys.platform == "darwin" else 1)
    return kb / KB_PER_MB


def peak_memory_mb(accelerator: str) -> dict[str, float]:
    """This run's peak RSS, and on CUDA its allocator peaks (allocated = tensors; reserved = held from the GPU)."""
    out = {"peak_rss_mb": round(_peak_rss_mb(), 1)}
    if accelerator == "cuda":
        import torch

        if torch.cuda.is_initialized():
            allocated, reserved = _run.get("gpu_floor", (0, 0))  # peaks from before gpu_peak_during reset them
            out["peak_gpu_mb"] = round(max(allocated, torch.cuda.max_memory_allocated()) / MB, 1)
            out["peak_gpu_reserved_mb"] = round(max(reserved, torch.cuda.max_memory_reserved()) / MB, 1)
    return out


def device_record(accelerator: str) -> dict[str, Any]:
    """The device this run used: CUDA index as the host numbers it, name and UUID; or CPU threads."""
    import torch

    if accelerator != "cuda" or not torch.cuda.is_initialized():
        return {"type": "cpu", "threads": torch.get_num_threads()}
    current = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(current)
    uuid = str(getattr(props, "uuid", "") or "")
    uuid = uuid if not uuid or uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"
    return {"type": "cuda", "index": _host_index(uuid, current), "name": props.name, "uuid": uuid or None}


def _host_index(uuid: str, current: int) -> int | None:
    """Index of the GPU as nvidia-smi numbers it: its UUID looked up in NVML, else CUDA_VISIBLE_DEVICES."""
    import os

    import torch

    try:
        uuids = torch.cuda._raw_device_uuid_nvml() or []  # NVML order = PCI bus order = nvidia-smi
    except Exception:  # no NVML library (not an NVIDIA driver install)
        uuids = []
    if uuid in uuids:
        return uuids.index(uuid)
    listed = [e.strip() for e in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if e.strip()]
    entry = listed[current] if current < len(listed) else str(current)
    return int(entry) if entry.isdigit() else None


def run_record(accelerator: str) -> dict[str, Any]:
    """metrics.json fields: device, this run's peaks, and its wall-clock start and end (epoch seconds)."""
    return {"device": device_record(accelerator), **peak_memory_mb(accelerator),
            "started_at": round(_run.get("started_at", time.time()), 3), "finished_at": round(time.time(), 3)}
