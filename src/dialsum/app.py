"""What `train.py` / `predict.py` run: user errors become one readable line, not a traceback."""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig

from dialsum import kept_config
from dialsum.errors import USER_ERROR_EXIT, DialsumError, bug_traceback, describe_failure, log_to_files
from dialsum.sweep.job_folder import config_flags

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
    previous = _stop_on_sigterm() if single else None
    try:
        if job == "train":
            from dialsum.engine.run import train

            return train(cfg, out_dir)
        from dialsum.engine.predict import predict

        return predict(cfg, out_dir)
    except Exception as err:  # noqa: BLE001 - only a user's problem is turned into a message
        message = describe_failure(err)
        if not single:
            text = message or bug_traceback(err)  # nothing for a pruned trial or a stopped sweep
            if text:
                _job_failed(text, out_dir, hydra_cfg)
            raise  # the sweeper records the failure and goes on
        if message is None:
            raise
        if isinstance(err, DialsumError) and not fresh:
            kept_config.restore()  # a refused rerun (a resume with a typo) leaves the earlier run's config
        remove = out_dir if fresh and isinstance(err, DialsumError) else None  # a diverged run keeps its log
        _fail(message, USER_ERROR_EXIT if isinstance(err, DialsumError) else 1, remove)
    except KeyboardInterrupt:
        if not single:
            raise
        print(f"dialsum: stopped ({_SIGNAL[0].name}). {_resume_hint(job, out_dir, hydra_cfg)}", file=sys.stderr)
        _die_by(_SIGNAL[0])
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _job_failed(text: str, out_dir: Path, hydra_cfg: Any) -> None:
    """A multirun job's failure in its own log; under the plain multirun also on the console at once, with a
    bug's stack (a joblib worker's traceback does not survive the trip back to the sweeper)."""
    log_to_files(log, text)
    if str(hydra_cfg.sweeper.get("_target_", "")).endswith(".DialsumBasicSweeper"):
        print(f"dialsum: error: job {out_dir} ({' '.join(hydra_cfg.overrides.task)}): {text}", file=sys.stderr)


def _fail(message: str, code: int, remove: Path | None = None) -> NoReturn:
    """One line on stderr (the log file keeps it too), no traceback; `remove`: a folder this run only began."""
    log_to_files(log, message)
    if remove is not None:
        _remove_partial_output(remove)
    print(f"dialsum: error: {message}", file=sys.stderr)
    sys.exit(code)


_SIGNAL = [signal.SIGINT]  # which signal stopped a single run


def _stop_on_sigterm() -> Any:
    """SIGTERM (kill, a scheduler's stop) unwinds like Ctrl-C: the same message and resume command. Only where
    nobody else handles it (a launcher's handler or an inherited ignore stays) and not under torchrun, whose
    agent SIGTERMs the other ranks when one fails. Returns the handler to restore, None if none was set."""
    from dialsum.sweep.devices import launched_distributed

    _SIGNAL[0] = signal.SIGINT

    def handler(signum: int, frame: object) -> None:
        _SIGNAL[0] = signal.Signals(signum)
        raise KeyboardInterrupt

    try:
        if launched_distributed() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return None
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding app): keep its handlers
        return None


def _die_by(sig: signal.Signals) -> NoReturn:
    """End as the signal would have: a shell loop (`for s in 1 2 3; do python train.py ...`) then stops too."""
    logging.shutdown()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    sys.exit(128 + int(sig))  # only if the signal is blocked


def _resume_hint(job: str, out_dir: Path, hydra_cfg) -> str:
    """How to go on: resume from the run folder's last checkpoint, or say that there is none yet."""
    from dialsum.engine.checkpoints import latest_checkpoint

    if job != "train":
        return "Nothing was written; rerun the command."
    checkpoint = latest_checkpoint(out_dir)
    if checkpoint is None:
        return "No checkpoint was saved yet (one every training.save_steps steps); rerun the command."
    given = [*hydra_cfg.overrides.hydra, *hydra_cfg.overrides.task]
    kept = [o for o in given if o.lstrip("+~").split("=", 1)[0]
            not in ("hydra.run.dir", "hydra.mode", "training.resume_from_checkpoint")]
    command = " ".join(shlex.quote(o) for o in [*sys.argv[:1], *config_flags(sys.argv[1:]), *kept,
                                                 f"hydra.run.dir={out_dir}",
                                                 f"training.resume_from_checkpoint={checkpoint}"])
    return f"To resume from its last checkpoint:\n  python {command}"


def _holds_only_hydra_files(out_dir: Path) -> bool:
    """What Hydra writes before the job (.hydra/, the job's log): anything else is an earlier run's work."""
    return all(p.name == ".hydra" or p.suffix == ".log" for p in out_dir.iterdir()) if out_dir.is_dir() else True


def _remove_partial_output(out_dir: Path) -> None:
    """A run that never started training leaves no half-written folder behind."""
    logging.shutdown()
    if out_dir.is_dir() and not (out_dir / "metrics.json").exists():
        shutil.rmtree(out_dir, ignore_errors=True)
