"""Sweeper-side checks before any trial runs: one launcher worker per parallel trial, enough GPU slots for
n_jobs, and SLURM / submitit_local jobs that can see a GPU (each trial then claims its own slot: devices)."""
from __future__ import annotations

import logging
from typing import Any

from dialsum.errors import DialsumError
from dialsum.sweep import devices

log = logging.getLogger(__name__)


def check_launcher(launcher: Any, n_jobs: int) -> None:
    """Parallel trials need a launcher that runs jobs in separate processes."""
    if n_jobs > 1 and type(launcher).__name__ == "BasicLauncher":
        raise DialsumError(f"hydra.sweeper.n_jobs={n_jobs} needs parallel worker processes: add "
                           "hydra/launcher=joblib (and hydra.launcher.n_jobs>=n_jobs), or submitit_local / "
                           "submitit_slurm (one job per trial).")


def check_workers(hardware: Any, n_jobs: int, launcher: Any) -> None:
    """Sweeper side, before any trial: one launcher worker per parallel trial, and enough GPU slots."""
    settings = getattr(launcher, "joblib", None)  # hydra-joblib-launcher keeps its Parallel kwargs here
    if settings is not None and settings.get("n_jobs") != n_jobs:
        log.info("hydra.launcher.n_jobs=%s -> %d: one worker process per parallel trial (idle workers would "
                 "hold GPU claims)", settings.get("n_jobs"), n_jobs)
        settings["n_jobs"] = n_jobs
    per_gpu = devices.trials_per_gpu(hardware)
    if hardware.accelerator != "cuda" or devices.launched_distributed():
        return
    from dialsum.sweep.submitit_jobs import kind

    if kind(launcher) == "slurm":  # the GPUs are on the cluster's nodes: SLURM gives each job its own
        _check_slurm_gpus(getattr(launcher, "params", {}))
        return
    visible = devices.host_gpus()
    if not visible:
        raise DialsumError(devices.NO_GPU)
    if kind(launcher) == "local":  # submitit_local sets CUDA_VISIBLE_DEVICES=range(gpus_per_node) for each job
        _local_gpus(launcher.params, visible)
    gpus = devices.allowed_gpus(hardware.get("devices"), visible)
    if n_jobs > len(gpus) * per_gpu:
        raise DialsumError(f"hydra.sweeper.n_jobs={n_jobs} is more than the {len(gpus) * per_gpu} GPU slot(s) "
                           f"available ({len(gpus)} GPU(s) x hardware.trials_per_gpu={per_gpu}); lower n_jobs, "
                           "or set hardware.trials_per_gpu so small trials share a GPU.")


def _check_slurm_gpus(params: dict[str, Any]) -> None:
    """hardware=gpu through submitit_slurm: each job must ask SLURM for a GPU, or every trial fails."""
    asked = [params.get(k) for k in ("gpus_per_node", "gpus_per_task", "gres")]
    if not any(asked):
        raise DialsumError("hardware uses a CUDA GPU but the SLURM jobs ask for none: add "
                           "hydra.launcher.gpus_per_node=1 (or hydra.launcher.gres=gpu:1), or use hardware=cpu.")
    if isinstance(asked[0], int) and asked[0] > 1:
        log.warning("hydra.launcher.gpus_per_node=%d: a dialsum run uses one GPU, the others would idle "
                    "(use 1; n_jobs sets how many trials run at once)", asked[0])


def _local_gpus(params: dict[str, Any], visible: list[str]) -> None:
    """submitit_local gives job k CUDA_VISIBLE_DEVICES=0..gpus_per_node-1: make that every GPU, claims pick one."""
    if not all(g.isdigit() for g in visible):
        raise DialsumError(f"submitit_local passes GPUs to jobs by index, but CUDA_VISIBLE_DEVICES={visible} names "
                           "them by UUID; use hydra/launcher=joblib, or list the GPUs by index.")
    if visible != [str(i) for i in range(len(visible))]:
        raise DialsumError(f"submitit_local sets each job's CUDA_VISIBLE_DEVICES to 0..N-1 and would ignore "
                           f"CUDA_VISIBLE_DEVICES={','.join(visible)}; choose GPUs with hardware.devices instead.")
    if params.get("gpus_per_node") != len(visible):
        log.info("hydra.launcher.gpus_per_node=%s -> %d: every job sees all GPUs and claims one slot",
                 params.get("gpus_per_node"), len(visible))
        params["gpus_per_node"] = len(visible)
