"""A refused rerun into an existing run folder (a resume with a typo) gives the folder its own config back
(single runs through the callback here, plain-multirun jobs through the dialsum_basic sweeper).

Hydra writes `.hydra/config.yaml` (and hydra.yaml, overrides.yaml) before the job starts, so a rerun that dialsum
then refuses would leave the refused settings beside the earlier run's model, for predict.py and the reports to
read. Hydra has no option for this; the callback keeps the files it is about to overwrite.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

_KEPT: dict[Path, bytes] = {}  # this process's single run: its folder's .hydra files as they were before it


class KeepRunConfig(Callback):
    """hydra.callbacks entry: remembers an existing run folder's .hydra files before Hydra rewrites them."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Single runs only (a sweep's job folders are new); reads nothing when the folder is new."""
        _KEPT.clear()
        if config.hydra.output_subdir is None or int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 keeps
            return
        folder = Path(config.hydra.run.dir).resolve() / config.hydra.output_subdir  # before any chdir of the job
        if folder.is_dir():
            _KEPT.update(snapshot(folder.glob("*.yaml")))


def restore() -> None:
    """Put the kept files back, after dialsum refused this run."""
    put_back(_KEPT)
    _KEPT.clear()


def snapshot(paths: Iterable[Path]) -> dict[Path, bytes]:
    """Hydra's config files as they are before a job rewrites them, by absolute path (Hydra's output_dir is)."""
    return {path.resolve(): path.read_bytes() for path in paths}


def put_back(files: dict[Path, bytes]) -> None:
    """Each kept file replaced whole by its earlier content."""
    from dialsum.tracking.atomic import write_bytes

    for path, content in files.items():
        write_bytes(path, content)


def forget() -> None:
    """The earlier run was cleared on purpose (artifacts.overwrite): its config is not put back either."""
    _KEPT.clear()
