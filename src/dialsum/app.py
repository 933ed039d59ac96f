"""What `train.py` / `predict.py` run: user errors become one readable line, not a traceback."""
from __future__ import annotations

import errno
import logging
import shlex
import shutil
import signal
import sys
from pathlib import Path

from omegaconf import DictConfig

from dialsum.errors import USER_ERROR_EXIT, DialsumError, TrainingDiverged, log_to_files

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
    single = hydra_cfg.mode != RunMode.MULTIRUN
    if single:
        _stop_on_sigterm()
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
    except TrainingDiverged as err:
        if not single:
            raise  # the sweeper fails the trial and goes on
        log_to_files(log, err)
        print(f"dialsum: error: {err}", file=sys.stderr)  # the run folder keeps its log and metrics.csv
        sys.exit(1)
    except Exception as err:  # noqa: BLE001 - only a full or read-only disk is turned into a message
        message = _disk_problem(err)
        if not single or message is None:
            raise
        log_to_files(log, DialsumError(message))
        print(f"dialsum: error: {message}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        if not single:
            raise
        print(f"dialsum: stopped ({_SIGNAL[0].name}). {_resume_hint(job, out_dir, hydra_cfg)}", file=sys.stderr)
        sys.exit(128 + int(_SIGNAL[0]))


_SIGNAL = [signal.SIGINT]  # which signal stopped a single run
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)  # the disk, not dialsum: one message


def _disk_problem(err: Exception) -> str | None:
    """A full, read-only or forbidden disk, also when a library wraps it (safetensors: "os error 28")."""
    if isinstance(err, OSError) and err.errno in DISK_ERRORS:
        what = f"{err.filename or 'a file'}: {err.strerror}"
    elif "No space left on device" in str(err):
        what = f"a file: {str(err).splitlines()[0]}"
    else:
        return None
    return (f"could not write {what}. Free space (or fix the folder's permissions), or point hydra.run.dir / "
            "paths.cache_dir at another disk, then rerun.")


def _stop_on_sigterm() -> None:
    """SIGTERM (kill, a scheduler's stop) unwinds like Ctrl-C: the same message, nothing half-written."""
    def handler(signum: int, frame: object) -> None:
        _SIGNAL[0] = signal.Signals(signum)
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding app): keep its handlers
        pass


def _resume_hint(job: str, out_dir: Path, hydra_cfg) -> str:
    """How to go on: resume from the run folder's last checkpoint, or say that there is none yet."""
    if job != "train":
        return "Nothing was written; rerun the command."
    if not any((out_dir / "checkpoints").glob("checkpoint-*")):
        return "No checkpoint was saved yet (one every training.save_steps steps); rerun the command."
    overrides = [o for o in hydra_cfg.overrides.task
                 if not o.startswith(("hydra.run.dir=", "training.resume_from_checkpoint="))]
    command = " ".join(shlex.quote(o) for o in [*overrides, f"hydra.run.dir={out_dir}",
                                                 "training.resume_from_checkpoint=true"])
    return f"To resume from the last checkpoint in {out_dir / 'checkpoints'}:\n  python train.py {command}"


def _holds_only_hydra_files(out_dir: Path) -> bool:
    """What Hydra writes before the job (.hydra/, the job's log): anything else is an earlier run's work."""
    return all(p.name == ".hydra" or p.suffix == ".log" for p in out_dir.iterdir()) if out_dir.is_dir() else True


def _remove_partial_output(out_dir: Path) -> None:
    """A run that never started training leaves no half-written folder behind."""
    logging.shutdown()
    if out_dir.is_dir() and not (out_dir / "metrics.json").exists():
        shutil.rmtree(out_dir, ignore_errors=True)
