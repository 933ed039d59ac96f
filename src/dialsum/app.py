"""What `train.py` / `predict.py` run: user errors become one readable line, not a traceback."""
from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

from omegaconf import DictConfig

from dialsum.errors import USER_ERROR_EXIT, DialsumError, log_to_files

log = logging.getLogger("dialsum")


def run_task(cfg: DictConfig, job: str) -> float | None:
    """Run a job; in a single run a DialsumError exits non-zero with its message only."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from dialsum import fast_exit

    fast_exit.install()  # this process now holds torch's heap: skip the last walk over it at exit
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    fresh = _holds_only_hydra_files(out_dir)  # a folder given again (a resume) is never removed on an error
    try:
        if job == "train":
            from dialsum.engine.run import train

            return train(cfg, out_dir)
        from dialsum.engine.predict import predict

        return predict(cfg, out_dir)
    except DialsumError as err:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # the sweeper records the failure and goes on
        log_to_files(log, err)
        if fresh:
            _remove_partial_output(out_dir)
        print(f"dialsum: error: {err}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)


def _holds_only_hydra_files(out_dir: Path) -> bool:
    """What Hydra writes before the job (.hydra/, the job's log): anything else is an earlier run's work."""
    return all(p.name == ".hydra" or p.suffix == ".log" for p in out_dir.iterdir()) if out_dir.is_dir() else True


def _remove_partial_output(out_dir: Path) -> None:
    """A run that never started training leaves no half-written folder behind."""
    logging.shutdown()
    if out_dir.is_dir() and not (out_dir / "metrics.json").exists():
        shutil.rmtree(out_dir, ignore_errors=True)
