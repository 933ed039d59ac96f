"""A refused rerun into an existing run folder (a resume with a typo) gives the folder its own config back.

Hydra writes `.hydra/config.yaml` (and hydra.yaml, overrides.yaml) before the job starts, so a rerun that dialsum
then refuses would leave the refused settings beside the earlier run's model, for predict.py and the reports to
read. Hydra has no option for this; the callback keeps the files it is about to overwrite.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
            _KEPT.update({path: path.read_bytes() for path in folder.glob("*.yaml")})


def restore() -> None:
    """Put the kept files back (each replaced whole), after dialsum refused this run."""
    from dialsum.tracking.atomic import write_bytes

    for path, content in _KEPT.items():
        write_bytes(path, content)
    _KEPT.clear()


def forget() -> None:
    """The earlier run was cleared on purpose (artifacts.overwrite): its config is not put back either."""
    _KEPT.clear()
