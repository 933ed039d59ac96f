"""The Optuna sweep loop behind `hydra/sweeper=optuna`.

Hand-written because no maintained package does this for Hydra + current Optuna: hydra-optuna-sweeper
pins optuna<3, cannot prune and runs synchronous batches. Each of n_jobs threads asks for a trial,
launches it through Hydra's launcher (one job per call, so a free worker starts the next trial at once)
and tells the result; jobs report intermediate values themselves (dialsum.sweep.bridge).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from dialsum.errors import DialsumError
from dialsum.sweep.pruners import build_pruner
from dialsum.sweep.results import TrialRecord, finish_sweep, read_job_metrics
from dialsum.sweep.samplers import build_sampler, grid_size
from dialsum.sweep.search_space import SearchSpace, check_keys, parse_space
from dialsum.sweep.storage import JOURNAL_FILENAME, open_storage

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState


class OptunaSweep:
    """One sweep invocation: build/resume the study, keep n_jobs trials running, write results."""

    def __init__(self, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.settings: dict[str, Any] = OmegaConf.to_container(config.hydra.sweeper, resolve=True)
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.lock = threading.Lock()
        self.records: list[TrialRecord] = []

    # ---- set-up -------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list[TrialRecord]:
        """Validate everything, then run trials until the study holds n_trials finished ones."""
        s = self.settings
        space = parse_space(s.get("params"), arguments)
        if not space.distributions:
            raise DialsumError("search space is empty: give hydra.sweeper.params or a sweep on the command "
                               "line, e.g. training.learning_rate='tag(log, interval(1e-4, 1e-2))'.")
        check_keys(space, self.hydra_context.config_loader.load_sweep_config(self.config, list(space.fixed)))
        directions, objectives = self._objectives()
        n_jobs = int(s.get("n_jobs", 1))
        self._check_launcher(n_jobs)
        sampler = build_sampler(s.get("sampler") or {}, space, len(directions))
        if len(directions) > 1:
            log.info("multi-objective study %s: Optuna cannot prune it, trials run to the end", objectives)
            pruner = optuna.pruners.NopPruner()
        else:
            pruner = build_pruner(s.get("pruner"))
        self.storage_url = str(s.get("storage") or (self.sweep_dir.resolve() / JOURNAL_FILENAME))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        study = optuna.create_study(study_name=s["study_name"], storage=open_storage(self.storage_url),
                                    sampler=sampler, pruner=pruner, directions=directions, load_if_exists=True)
        requeued = recover_interrupted(study)
        budget = self._budget(study, space)
        log.info("study %s (%s): %d trial(s) to run, %d worker(s); storage %s%s", study.study_name,
                 sampler.__class__.__name__, budget, n_jobs, self.storage_url,
                 f"; re-queued {requeued} interrupted trial(s)" if requeued else "")
        started = time.time()
        self._run(study, space, budget, n_jobs, objectives)
        return finish_sweep(study, self.records, self.sweep_dir, self.storage_url, space,
                            wall_s=time.time() - started, n_jobs=n_jobs, settings=s)

    def _objectives(self) -> tuple[list[str], list[str]]:
        """Directions and the metric each one reads (single objective: what the job returns)."""
        direction = self.settings.get("direction", "maximize")
        directions = [direction] if isinstance(direction, str) else list(direction)
        objectives = self.settings.get("objectives") or [self.config.objective.metric]
        if len(objectives) != len(directions):
            raise DialsumError(f"hydra.sweeper.objectives has {len(objectives)} metric(s) but direction has "
                               f"{len(directions)}; give one direction per objective.")
        for d in directions:
            if d not in ("maximize", "minimize"):
                raise DialsumError(f"hydra.sweeper.direction: {d!r} is not maximize or minimize.")
        return directions, objectives

    def _check_launcher(self, n_jobs: int) -> None:
        """Parallel trials need a launcher that runs jobs in separate processes."""
        if n_jobs < 1:
            raise DialsumError("hydra.sweeper.n_jobs must be >= 1.")
        name = type(self.launcher).__name__
        if n_jobs > 1 and name == "BasicLauncher":
            raise DialsumError(f"hydra.sweeper.n_jobs={n_jobs} needs parallel worker processes: add "
                               "hydra/launcher=joblib (and hydra.launcher.n_jobs>=n_jobs).")

    def _budget(self, study: optuna.Study, space: SearchSpace) -> int:
        """n_trials counts the whole study: trials finished earlier (not interrupted ones) are kept."""
        n_trials = int(self.settings.get("n_trials", 10))
        if (self.settings.get("sampler") or {}).get("name") == "grid":
            n_trials = min(n_trials, grid_size(space))
        self.n_trials = n_trials
        done = sum(1 for t in study.get_trials(deepcopy=False)
                   if t.state.is_finished() and not t.user_attrs.get("interrupted"))
        return max(0, n_trials - done)

    # ---- the loop -----------------------------------------------------------------------------
    def _run(self, study: optuna.Study, space: SearchSpace, budget: int, n_jobs: int, objectives: list[str]) -> None:
        """n_jobs threads, each: ask -> launch one job -> tell, until the budget is spent."""
        self.launched = 0
        self.failed = 0
        self.stop_reason: str | None = None
        max_failures = float(self.settings.get("max_failure_rate", 0.5)) * self.n_trials

        def worker(worker_id: int) -> None:
            while (trial := self._next_trial(study, space, budget)) is not None:
                record = self._run_trial(study, trial, space, worker_id, n_jobs, objectives)
                with self.lock:
                    self.records.append(record)
                    if record.state == "FAIL":
                        self.failed += 1
                        if self.failed > max_failures and self.stop_reason is None:
                            self.stop_reason = (f"{self.failed} failed trials exceed max_failure_rate="
                                                f"{self.settings.get('max_failure_rate')}; stopping the sweep")
                            log.error("%s", self.stop_reason)

        threads = [threading.Thread(target=worker, args=(i,), name=f"dialsum-worker-{i}") for i in range(n_jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _next_trial(self, study: optuna.Study, space: SearchSpace, budget: int) -> optuna.Trial | None:
        """Ask under a lock (sampler and counters are shared); None when done or stopped."""
        with self.lock:
            while self.stop_reason is None and self.launched < budget:
                self.launched += 1
                trial = study.ask(space.distributions)
                trial.set_user_attr("sweeper", {"host": socket.gethostname(), "pid": os.getpid()})
                if not (self.settings.get("skip_duplicates", True) and self._reuse_duplicate(study, trial)):
                    return trial
            return None

    def _reuse_duplicate(self, study: optuna.Study, trial: optuna.Trial) -> bool:
        """TPE re-proposes finished points of discrete spaces: tell the earlier values instead of retraining."""
        for done in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if done.params == trial.params:
                trial.set_user_attr("duplicate_of", done.user_attrs.get("duplicate_of", done.number))
                _tell(study, trial, values=done.values)
                self.records.append(TrialRecord(number=trial.number, params=dict(trial.params), worker=-1,
                                                start=time.time(), duration_s=0.0, job_dir=None,
                                                state="COMPLETE", values=done.values))
                log.info("trial %d repeats trial %d's parameters: its result is reused, nothing is trained",
                         trial.number, done.number)
                return True
        return False

    def _run_trial(self, study: optuna.Study, trial: optuna.Trial, space: SearchSpace, worker_id: int,
                   n_jobs: int, objectives: list[str]) -> TrialRecord:
        """Launch one job and record COMPLETE / PRUNED / FAIL; a failing job never stops the others."""
        overrides = list(space.fixed) + [f"{k}={_format(v)}" for k, v in trial.params.items()] + [
            f"trial.number={trial.number}", f"trial.study_name={_quote(study.study_name)}",
            f"trial.storage={_quote(self.storage_url)}", f"trial.n_workers={n_jobs}"]
        trial.set_user_attr("worker", worker_id)
        started = time.time()
        job_dir: str | None = None
        try:
            ret = self.launcher.launch([overrides], initial_job_idx=trial.number)[0]
            job_dir = str(ret.hydra_cfg.hydra.runtime.output_dir) if ret.hydra_cfg else None
            outcome = ret._return_value  # the value, or the exception the job raised
            ok = ret.status == JobStatus.COMPLETED
        except Exception as err:  # the launcher itself failed (e.g. a worker process died)
            outcome, ok = err, False
        duration = time.time() - started
        trial.set_user_attr("duration_s", round(duration, 3))
        if job_dir:
            trial.set_user_attr("job_dir", job_dir)
        record = TrialRecord(number=trial.number, params=dict(trial.params), worker=worker_id,
                             start=started, duration_s=duration, job_dir=job_dir)
        if ok:
            values = self._values(outcome, job_dir, objectives)
            if values is None:
                outcome, ok = ValueError(f"objective is not a finite number ({outcome!r})"), False
            else:
                record.state, record.values = "COMPLETE", values
                _tell(study, trial, values=values)
        if not ok and isinstance(outcome, optuna.TrialPruned):
            record.state = "PRUNED"
            _tell(study, trial, state=TrialState.PRUNED)
            frozen = study._storage.get_trial(trial._trial_id)
            record.values = frozen.values
        elif not ok:
            record.state, record.error = "FAIL", f"{type(outcome).__name__}: {outcome}"
            trial.set_user_attr("error", record.error)
            log.error("trial %d failed: %s (job folder %s)", trial.number, record.error, job_dir)
            _tell(study, trial, state=TrialState.FAIL)
        log.info("trial %d %s in %.1f s: %s %s", trial.number, record.state, duration,
                 record.values, trial.params)
        return record

    def _values(self, returned: Any, job_dir: str | None, objectives: list[str]) -> list[float] | None:
        """Single objective: the job's return value. Several: read from the job's metrics.json."""
        import math

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


def recover_interrupted(study: optuna.Study) -> int:
    """RUNNING trials whose sweeper process (on this host) is gone: mark FAIL, re-queue their params."""
    host = socket.gethostname()
    requeued = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get("sweeper") or {}
        if owner.get("host") != host or _pid_alive(int(owner.get("pid", -1))):
            continue  # another live sweeper (or another machine) owns it
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study._storage.set_trial_user_attr(t._trial_id, "error", "interrupted: the sweep process was killed")
        _tell(study, t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
        log.warning("trial %d was left RUNNING by a killed sweep: marked FAIL, its params re-queued", t.number)
        requeued += 1
    return requeued


def _pid_alive(pid: int) -> bool:
    """Is a process with this pid running on this machine?"""
    if pid <= 0 or pid == os.getpid():
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tell(study: optuna.Study, trial: Any, **kwargs: Any) -> None:
    """study.tell; GridSampler raises after the last grid point (it calls study.stop), state is saved."""
    try:
        study.tell(trial, **kwargs)
    except RuntimeError as err:
        log.debug("tell: %s", err)


def _format(value: Any) -> str:
    """A sampled value as a Hydra override value."""
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    return repr(value) if isinstance(value, float) else str(value)


def _quote(text: str) -> str:
    """Quote for Hydra's override grammar (paths, URLs with ':' and '/')."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
