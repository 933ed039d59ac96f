"""One trial as a Hydra job: its overrides, the launch, and the values it produced."""
from __future__ import annotations

import functools
import logging
import math
from typing import Any, Callable

import optuna
from hydra.core.utils import JobStatus

from dialsum.sweep.job_folder import read_job_metrics

log = logging.getLogger(__name__)


class TaskExited(Exception):
    """The task function called sys.exit(): its trial failed with the app's own message (no stack, and not
    counted as the input's fault: the app may have exited for any reason), the sweep goes on."""


def without_exit(task_function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The task function with sys.exit() turned into a failure Hydra records in the job (its folder is then
    known, and a joblib worker is not lost); a partial of a module function, so launchers can pickle it."""
    return functools.partial(_call_without_exit, task_function)


def _call_without_exit(task_function: Callable[[Any], Any], cfg: Any) -> Any:
    """Run the task; SystemExit becomes TaskExited naming the exit code or message."""
    _end_with_the_sweeper()
    try:
        return task_function(cfg)
    except SystemExit as exc:
        code = exc.code
        said = f"the task function exited: {code}" if isinstance(code, str) else (
            f"the task function called sys.exit({'' if code is None else code}) instead of returning a value")
        raise TaskExited(said) from None


ORPHAN_CHECK_S = 2.0  # how often a worker process looks whether the sweeper that started it is still there
_GUARDED: list[int] = []  # pids of processes whose guard runs (a reused worker starts one)


def _end_with_the_sweeper() -> None:
    """A worker process (joblib's loky) outlived a killed sweeper (kill -9, out of memory) and trained on: its
    result was lost to the rerun, which trained the point again beside it, while it held its cores and GPU slot.
    Exits once its parent is gone. Hand-written: loky has no parent-death option, and PR_SET_PDEATHSIG follows
    the thread that forked (loky may fork from a helper thread). A job in the sweeper's own process (n_jobs=1)
    has no guard."""
    import multiprocessing
    import os
    import threading
    import time

    parent = multiprocessing.parent_process()
    if parent is None or parent.pid != os.getppid() or os.getpid() in _GUARDED:
        return
    _GUARDED.append(os.getpid())

    def watch() -> None:
        while os.getppid() == parent.pid:
            time.sleep(ORPHAN_CHECK_S)
        log.error("the sweeper (pid %s) is gone: this worker stops its trial (a rerun of the sweep re-queues it)",
                  parent.pid)
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=watch, name="dialsum-orphan-guard", daemon=True).start()


def trial_overrides(fixed: list[str], params: dict[str, Any], number: int, study_name: str, storage_url: str,
                    n_jobs: int, objective: list[str], cpu_share: Any = None) -> list[str]:
    """What one job runs: the sweep's fixed overrides, the sampled params, and the trial.* fields."""
    return list(fixed) + list(objective) + [f"{k}={format_value(v)}" for k, v in params.items()] + [
        f"trial.number={number}", f"trial.study_name={quote(study_name)}",
        f"trial.storage={quote(storage_url)}", f"trial.n_workers={n_jobs}"] + (
        [f"trial.cpu_share={quote(str(cpu_share))}"] if cpu_share else [])


def launch(launcher: Any, overrides: list[str], number: int) -> tuple[Any, bool, str | None]:
    """(return value or exception, completed?, job folder); a launcher failure is an outcome too."""
    try:
        ret = launcher.launch([overrides], initial_job_idx=number)[0]
    except BaseException as err:  # noqa: BLE001 - the launcher failed (a worker died, the pool broke) or an
        return err, False, None    # in-process job called sys.exit: an outcome of this trial, not of the loop
    job_dir = str(ret.hydra_cfg.hydra.runtime.output_dir) if ret.hydra_cfg else None
    return ret._return_value, ret.status == JobStatus.COMPLETED, job_dir  # value, or the job's exception


def objective_values(returned: Any, job_dir: str | None, objectives: list[str]) -> list[float] | None:
    """Single objective: the job's return value. Several: read from the job's metrics.json."""
    if len(objectives) == 1:
        values = [returned]
    else:
        metrics = read_job_metrics(job_dir)
        values = [metric_value(metrics, name) for name in objectives]
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def metric_value(metrics: dict[str, Any], name: str) -> Any:
    """`eval/...` from the best evaluation; anything else (peak_rss_mb, train_time_s) from the top level."""
    if name.startswith("eval/"):
        return (metrics.get("best") or {}).get(name)
    return metrics.get(name)


def tell(study: optuna.Study, trial: Any, **kwargs: Any) -> None:
    """study.tell, tolerant of sampler errors raised after the result was saved.

    Optuna saves the state in a `finally` after `sampler.after_trial`; GridSampler raises there after the
    last grid point (RuntimeError from study.stop) and for re-queued trials, which carry no grid_id
    (KeyError). The result is stored either way; anything else (storage down) propagates."""
    try:
        study.tell(trial, **kwargs)
    except Exception as err:  # noqa: BLE001 - re-raised unless the trial is already stored as finished
        if not is_finished(study, trial):
            raise
        log.debug("tell: the sampler raised after the result was saved: %r", err)


def is_finished(study: optuna.Study, trial: Any) -> bool:
    """Is this trial (object or number) finished in the storage?"""
    try:
        number = trial if isinstance(trial, int) else trial.number
        trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
        return study._storage.get_trial(trial_id).state.is_finished()
    except Exception:  # noqa: BLE001 - storage unreachable: not known to be finished
        return False


def format_value(value: Any) -> str:
    """A sampled value as a Hydra override value."""
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    return repr(value) if isinstance(value, float) else str(value)


def quote(text: str) -> str:
    """Quote for Hydra's override grammar (paths, URLs with ':' and '/')."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
