"""Checks of the machine: library versions, GPUs against the hardware config, W&B login, disk space."""
from __future__ import annotations

import netrc
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dialsum.doctor.result import Check, fail, ok, warn
from dialsum.errors import DialsumError

GIB = 1024 ** 3
BF16_MIN_CAPABILITY = (8, 0)   # bfloat16 tensor cores: Ampere (sm_80) or newer
BUSY_GPU_FREE_SHARE = 0.5      # less than half the memory free: another process holds the GPU
DISK_FAIL_GIB = 1.0            # a checkpoint or a cache write would fail
BUSY_LOAD_SHARE = 0.5          # load average above this share of the cores, before dialsum starts: busy
DISK_WARN_GIB = 10.0           # a night of checkpoints and W&B files may not fit
PACKAGES = ("torch", "transformers", "optuna", "hydra-core", "wandb")
WANDB_HOST = "api.wandb.ai"


def versions() -> list[Check]:
    """Python and the libraries dialsum drives (a missing one is a broken install)."""
    found, missing = [f"python {platform.python_version()}"], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return [fail("versions", f"not installed: {', '.join(missing)}", "make install (in the project folder)")]
    return [ok("versions", ", ".join(found))]


def gpus(hardware: Any, n_jobs: int = 1, cuda: Any = None) -> list[Check]:
    """GPUs visible, their free memory and compute capability, against hardware.* and the sweep's parallel
    trials (n_jobs); works without CUDA."""
    from dialsum.sweep import devices

    if cuda is None:
        import torch

        cuda = torch.cuda
    count = cuda.device_count()
    if hardware.accelerator != "cuda":
        if count:
            return [warn("gpu", f"{count} GPU(s) visible, but this config trains on the CPU (hardware.accelerator="
                                f"{hardware.accelerator})", "add hardware=gpu (or hardware=bf16 / fp16_ckpt) to use them")]
        return [ok("gpu", f"no GPU needed: hardware.accelerator=cpu, {os.cpu_count()} CPU core(s)")]
    if not count or not cuda.is_available():
        return [fail("gpu", "this hardware config needs a CUDA GPU, but none is visible",
                     "use hardware=cpu, or run on a GPU machine (check nvidia-smi and CUDA_VISIBLE_DEVICES)")]
    try:
        visible = devices.host_gpus()
        allowed = devices.allowed_gpus(hardware.get("devices"), visible)
        flags = devices.precision_flags(hardware)
    except DialsumError as err:
        return [fail("gpu", str(err))]
    checks = []
    for index, gpu in enumerate(visible[:count]):
        if gpu in allowed:
            checks.append(_gpu_line(cuda, index, gpu, flags["bf16"]))
    slots = len(allowed) * devices.trials_per_gpu(hardware)
    if n_jobs > slots:
        checks.append(fail("gpu", f"hydra.sweeper.n_jobs={n_jobs} parallel trials, but only {slots} GPU slot(s) "
                                  f"({len(allowed)} GPU(s) x hardware.trials_per_gpu)",
                           "lower hydra.sweeper.n_jobs, or raise hardware.trials_per_gpu so small trials share a GPU"))
    return checks


def cpu_load(hardware: Any, n_jobs: int = 1, load: float | None = None) -> list[Check]:
    """Cores, torch threads per trial and what else runs: a CPU trial's OpenMP threads that wait for cores held
    by other processes make every step slower (measured: a 2-thread trial took 187 s instead of ~14 s at a load near 4
    on 2 cores), so a busy machine gets a warning with the fix."""
    from dialsum.sweep import devices

    cores = os.cpu_count() or 1
    threads = devices.cpu_threads(n_jobs, hardware.get("torch_threads"))
    load = os.getloadavg()[0] if load is None else load
    line = f"{cores} core(s), {n_jobs} parallel trial(s) x {threads} torch thread(s); 1-minute load {load:.1f}"
    if hardware.accelerator == "cpu" and threads > 1 and load > BUSY_LOAD_SHARE * cores:
        return [warn("cpu", line + " - other processes are using the cores",
                     "run when the machine is quiet, or set hardware.torch_threads=1 (each trial then waits for "
                     "no one)")]
    return [ok("cpu", line)]


def _gpu_line(cuda: Any, index: int, gpu: str, bf16: bool) -> Check:
    """One GPU: name, free memory, capability; bf16 on a pre-Ampere card fails."""
    name = cuda.get_device_name(index)
    free, total = cuda.mem_get_info(index)
    major, minor = cuda.get_device_capability(index)
    line = f"GPU {gpu} {name}: {free / GIB:.1f} of {total / GIB:.1f} GiB free, compute capability {major}.{minor}"
    if bf16 and (major, minor) < BF16_MIN_CAPABILITY:
        return fail("gpu", line + " - bf16 needs 8.0+ (Ampere or newer)",
                    "use hardware=fp16_ckpt (fp16) or hardware=gpu (fp32) on this GPU")
    if total and free / total < BUSY_GPU_FREE_SHARE:
        return warn("gpu", line + " - another process holds most of its memory",
                    "see nvidia-smi; pick free GPUs with hardware.devices=[...]")
    return ok("gpu", line + (" (bf16 supported)" if bf16 else ""))


def wandb_login(logger: Any) -> list[Check]:
    """W&B mode, and for online runs whether a login exists (the key itself is never read out or shown)."""
    if logger.name != "wandb":
        return [ok("wandb", f"not used (logger={logger.name})")]
    mode = str(logger.mode)
    if mode in ("offline", "disabled"):
        note = "; upload later with `wandb sync <run>/wandb/offline-run-*`" if mode == "offline" else ""
        return [ok("wandb", f"mode {mode}: no network needed{note}")]
    if mode != "online":
        return [fail("wandb", f"logger.mode={mode!r} is unknown", "use offline, online or disabled")]
    source = login_source()
    if source is None:
        return [fail("wandb", "mode online, but no W&B login found (no WANDB_API_KEY, no netrc entry for "
                              f"{wandb_host()})", "run `wandb login` once on this machine, or use logger.mode=offline")]
    return [ok("wandb", f"mode online, logged in (key from {source})")]


def wandb_host() -> str:
    """The W&B API host (WANDB_BASE_URL for a private server)."""
    base = os.environ.get("WANDB_BASE_URL")
    return (urlparse(base).hostname or WANDB_HOST) if base else WANDB_HOST


def login_source() -> str | None:
    """Where a W&B key would come from: WANDB_API_KEY, or the netrc file `wandb login` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return "WANDB_API_KEY"
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        entry = netrc.netrc(str(path)).authenticators(wandb_host())
    except (OSError, netrc.NetrcParseError):
        return None
    return str(path) if entry and entry[2] else None


def disk_space(folders: dict[str, Path]) -> list[Check]:
    """Free space where runs, sweeps and the cache are written (one line per file system)."""
    by_device: dict[int, tuple[list[str], Path]] = {}
    for label, folder in folders.items():
        existing = _existing_ancestor(folder)
        device = existing.stat().st_dev
        by_device.setdefault(device, ([], existing))[0].append(f"{label} ({folder})")
    checks = [fail("disk", f"{label} ({folder}): {problem}", "fix the folder's permissions, or point "
                   "hydra.run.dir / hydra.sweep.dir / DIALSUM_CACHE elsewhere")
              for label, folder in folders.items() if (problem := cannot_write(folder))]
    for labels, existing in by_device.values():
        free = shutil.disk_usage(existing).free / GIB
        line = f"{free:.1f} GiB free for {', '.join(labels)}"
        if free < DISK_FAIL_GIB:
            checks.append(fail("disk", line, "free space there, or point paths.cache_dir / hydra.run.dir elsewhere"))
        elif free < DISK_WARN_GIB:
            checks.append(warn("disk", line, "checkpoints of a long run may not fit; artifacts.keep_checkpoints=false "
                                             "keeps only the best model"))
        else:
            checks.append(ok("disk", line))
    return checks


def cannot_write(folder: Path) -> str | None:
    """Why nothing can be created in folder (or in its nearest existing parent, where it will be made), or None.
    A real file is created and removed: permission bits say nothing of read-only mounts or immutable folders."""
    existing = _existing_ancestor(folder)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".dialsum-doctor-"):
            return None
    except OSError as err:
        return f"cannot write in {existing} ({err.strerror})"


def _existing_ancestor(folder: Path) -> Path:
    """The folder, or its nearest parent that exists (it is created at the first run)."""
    folder = folder.resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
