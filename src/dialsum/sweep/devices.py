"""Give each run its share of the machine: one GPU slot claimed for the process's lifetime, or CPU threads.

What a process sees is decided by CUDA_VISIBLE_DEVICES *before* CUDA initialises in it. Left alone, HF
TrainingArguments takes cuda:0, counts every visible GPU (n_gpu) and Trainer wraps the model in
nn.DataParallel, multiplying the batch. So a run first claims a slot (an OS file lock, released when the
process exits; a reused sweep worker keeps it), then pins CUDA_VISIBLE_DEVICES to that one GPU, and only
then lets anything touch CUDA (`torch.cuda.is_available()` initialises the driver). `torch.cuda.device_count()`
is safe before that: it asks NVML, honours CUDA_VISIBLE_DEVICES and does not initialise CUDA.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Sequence

from dialsum.errors import DialsumError

log = logging.getLogger(__name__)

VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
DISTRIBUTED_ENV = ("LOCAL_RANK", "WORLD_SIZE")  # set by torchrun / accelerate launch: they place processes
SLURM_GPU_ENV = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS")  # SLURM gave this job its GPUs (with CUDA_VISIBLE_DEVICES)
NO_GPU = ("this hardware config needs a CUDA GPU (accelerator=cuda / fp16 / bf16) but none is visible. "
          "Use hardware=cpu, or run on a GPU machine.")
PRECISIONS = ("fp32", "fp16", "bf16")
THREADS_ATTR = "torch_threads"  # trial user attr: CPU threads it trained on (another count trains other weights)
THREADS_KEY = "hardware.torch_threads"


@dataclass(frozen=True)
class Slot:
    """One of trials_per_gpu places on a GPU, named by the host's id for the GPU."""

    gpu: str     # the GPU as the host names it: an index, or a UUID / MIG id from CUDA_VISIBLE_DEVICES
    index: int   # 0 .. trials_per_gpu - 1


@dataclass(frozen=True)
class Placement:
    """Where this process runs: the torch device to use and a line for the log."""

    device: str  # "cpu", or "cuda:0" (the one GPU this process sees)
    note: str

    def __str__(self) -> str:
        return self.note


_claim: tuple[Slot, IO[str]] | None = None  # the slot this process holds, with its open lock file
_host_visible: list[str] | None = None      # the GPUs visible before this process pinned one
_per_gpu = 1                                # runs that may share this process's GPU (hardware.trials_per_gpu)


def cpu_threads(n_workers: int, requested: int | None) -> int:
    """Threads per worker: the cores split evenly, so N workers never oversubscribe the CPU.

    A submitit SLURM job runs one trial on the CPUs SLURM gave it (cpus_per_task), not a share of the node."""
    if requested:
        return int(requested)
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm" and "SLURM_JOB_ID" in os.environ:
        return max(1, int(os.environ.get("SLURM_CPUS_PER_TASK") or len(os.sched_getaffinity(0))))
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


def trials_per_gpu(hardware: Any) -> int:
    """hardware.trials_per_gpu, validated: how many runs may share one GPU."""
    value = hardware.get("trials_per_gpu", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DialsumError(f"hardware.trials_per_gpu={value!r} must be an integer >= 1 (1 = a GPU per run; "
                           "K = K small runs share each GPU).")
    return value


def precision_flags(hardware: Any) -> dict[str, bool]:
    """fp16/bf16 for TrainingArguments: hardware.precision (one key a sweep can search) wins over the flags."""
    precision = hardware.get("precision")
    if precision is None:
        return {"fp16": bool(hardware.fp16), "bf16": bool(hardware.bf16)}
    if precision not in PRECISIONS:
        raise DialsumError(f"hardware.precision={precision!r} is unknown; use one of {list(PRECISIONS)} or null.")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def check_hardware(hardware: Any, model: Any = None) -> None:
    """Config mistakes caught before anything touches CUDA: slots, precision, fp16 on a model that overflows it."""
    trials_per_gpu(hardware)
    flags = precision_flags(hardware)
    if flags["fp16"] and flags["bf16"]:
        raise DialsumError("hardware fp16 and bf16 are both on; pick one (hardware=fp16_ckpt or hardware=bf16).")
    if (flags["fp16"] or flags["bf16"]) and hardware.accelerator != "cuda":
        raise DialsumError("fp16/bf16 mixed precision needs a CUDA GPU (accelerator=cuda); use hardware=gpu / "
                           "fp16_ckpt / bf16 on a GPU machine, or hardware=cpu with fp32.")
    if flags["fp16"] and model is not None and model.get("fp16_overflows", False):  # a user's older model yaml
        log.warning("fp16 with model=%s: its activations are known to overflow float16 (NaN loss; "
                    "model.fp16_overflows); prefer hardware=bf16 (Ampere or newer GPUs) or fp32 (hardware=gpu).",
                    model.name)


def launched_distributed() -> bool:
    """torchrun / accelerate launch placed this process: dialsum must not re-pin its GPU."""
    return all(name in os.environ for name in DISTRIBUTED_ENV)


def host_gpus() -> list[str]:
    """The GPUs this process may use, as the host names them, without initialising CUDA."""
    if _host_visible is not None:
        return list(_host_visible)  # already pinned: what was visible before
    import torch

    count = torch.cuda.device_count()  # NVML first: no CUDA initialisation, honours CUDA_VISIBLE_DEVICES
    listed = os.environ.get(VISIBLE_ENV)
    if listed is None:
        return [str(i) for i in range(count)]
    return [entry.strip() for entry in listed.split(",") if entry.strip()][:count]


def allowed_gpus(devices: Sequence[int] | None, visible: list[str]) -> list[str]:
    """hardware.devices (indices into the visible GPUs) -> host ids; null = all visible."""
    if devices is None:
        return visible
    bad = [d for d in devices if not isinstance(d, int) or not 0 <= d < len(visible)]
    if bad or not devices:
        raise DialsumError(f"hardware.devices={list(devices)}: {len(visible)} GPU(s) are visible, so use indices "
                           f"0..{len(visible) - 1} (of CUDA_VISIBLE_DEVICES when set), or null for all.")
    return [visible[d] for d in devices]


def slot_order(gpus: list[str], per_gpu: int) -> list[Slot]:
    """Slot 0 of every GPU before slot 1 of any: parallel runs spread over all GPUs first."""
    return [Slot(gpu, k) for k in range(per_gpu) for gpu in gpus]


def claim_slot(candidates: Sequence[Slot], lock_dir: Path) -> Slot:
    """Claim the first free slot for this process (held until it exits); the same one on every later call."""
    global _claim
    if _claim is not None:
        if _claim[0] in candidates:
            return _claim[0]
        _claim[1].close()  # a different device set was asked for: give the old slot back
        _claim = None
    lock_dir.mkdir(parents=True, exist_ok=True)
    holders = []
    for slot in candidates:
        handle = open(lock_dir / _lock_name(slot), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holders.append(handle.read().strip() or "?")
            handle.close()
            continue
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _claim = (slot, handle)
        return slot
    gpus = sorted({s.gpu for s in candidates})
    raise DialsumError(f"all {len(candidates)} slot(s) on GPU(s) {gpus} are claimed by other dialsum processes "
                       f"(pids {', '.join(holders)}); run fewer at once (hydra.sweeper.n_jobs), raise "
                       "hardware.trials_per_gpu to share a GPU, or list other GPUs in hardware.devices.")


def _lock_name(slot: Slot) -> str:
    """Lock file name for a slot (the GPU id made file-name safe)."""
    return f"device{re.sub(r'[^A-Za-z0-9_-]', '_', slot.gpu)}.slot{slot.index}.lock"


def pin(gpu: str) -> None:
    """Make `gpu` the only GPU this process sees; must run before CUDA initialises in it."""
    global _host_visible
    import torch

    if _host_visible is None:
        if torch.cuda.is_initialized():
            raise DialsumError("CUDA was initialised in this process before dialsum could pin its GPU, so "
                               "it would see every GPU. Do not touch torch.cuda before train()/predict().")
        _host_visible = host_gpus()
        if VISIBLE_ENV not in os.environ:
            os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # indices as nvidia-smi numbers GPUs
    elif torch.cuda.is_initialized() and os.environ.get(VISIBLE_ENV) != gpu:
        raise DialsumError(f"this process already uses GPU {os.environ.get(VISIBLE_ENV)} and cannot switch to "
                           f"GPU {gpu} (CUDA is initialised); keep hardware.devices the same within a sweep.")
    os.environ[VISIBLE_ENV] = gpu


def _require_cuda(pinned: bool) -> None:
    """Now CUDA may initialise: it must work, and a pinned process must see exactly one GPU."""
    import torch

    if not torch.cuda.is_available():
        raise DialsumError(NO_GPU)
    torch.cuda.init()  # from here device_count() is the CUDA runtime's own count, not NVML's
    if pinned and torch.cuda.device_count() != 1:
        raise DialsumError(f"this process sees {torch.cuda.device_count()} GPUs after pinning one: CUDA was "
                           "initialised before dialsum's device claim. Do not touch torch.cuda before train().")


def configure(hardware: Any, n_workers: int, lock_dir: Path, shared: bool = False) -> Placement:
    """Set torch threads; on GPU claim a slot and pin its GPU before CUDA starts. `shared`: no free slot is
    not an error (predict: a short job may share a busy GPU)."""
    import torch

    threads = cpu_threads(n_workers, hardware.get("torch_threads"))
    torch.set_num_threads(threads)
    if hardware.accelerator != "cuda":
        return Placement("cpu", f"cpu, {threads} torch thread(s)")
    if launched_distributed():
        rank = int(os.environ["LOCAL_RANK"])
        _require_cuda(pinned=False)
        return Placement(f"cuda:{rank}", f"cuda:{rank} (rank {rank} of {os.environ['WORLD_SIZE']} placed by "
                                         "torchrun/accelerate launch; not re-pinned)")
    visible = host_gpus()
    if not visible:
        raise DialsumError(NO_GPU)
    scope = slurm_scope()
    if scope:  # the GPUs are this SLURM job's own: claims only spread runs within it, never across jobs/nodes
        lock_dir = lock_dir / scope
    global _per_gpu
    per_gpu = _per_gpu = trials_per_gpu(hardware)
    candidates = slot_order(allowed_gpus(hardware.get("devices"), visible), per_gpu)
    try:
        slot = claim_slot(candidates, lock_dir)
        how = f"slot {slot.index + 1}/{per_gpu}, claimed by pid {os.getpid()}"
    except DialsumError:
        if not shared:
            raise
        slot, how = candidates[0], "shared: every slot is claimed by other processes"
    pin(slot.gpu)
    _require_cuda(pinned=True)
    where = f"GPU {slot.gpu} of SLURM job {os.environ['SLURM_JOB_ID']}" if scope else f"host GPU {slot.gpu}"
    return Placement("cuda:0", f"cuda:0 = {where} ({torch.cuda.get_device_name(0)}), {how}")


def runs_per_gpu() -> int:
    """How many runs may share this process's GPU: each may plan on only its share of the free memory."""
    return _per_gpu


def slurm_scope() -> str | None:
    """Inside a SLURM job that was given GPUs: a name for its own claim scope (lock files per job).

    SLURM hands each job its GPUs (and numbers them from 0 under ConstrainDevices), so GPU "0" of two jobs on
    one node, or on two nodes sharing the cache folder, are different devices: claims must not compete."""
    if "SLURM_JOB_ID" in os.environ and any(os.environ.get(name) for name in SLURM_GPU_ENV):
        return f"slurm-job-{os.environ['SLURM_JOB_ID']}"
    return None


def pin_threads(overrides: list[str], user_attrs: dict[str, Any]) -> list[str]:
    """A CPU trial's rerun trains on the thread count it had in the sweep (cores / n_jobs there), not on all cores:
    torch's CPU LayerNorm backward sums per thread, so another count gives another result (core_share)."""
    threads = user_attrs.get(THREADS_ATTR)
    if threads is None or any(o.lstrip("+~").startswith(f"{THREADS_KEY}=") for o in overrides):
        return overrides
    return [*overrides, f"{THREADS_KEY}={int(threads)}"]
