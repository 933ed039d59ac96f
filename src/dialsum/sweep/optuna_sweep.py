"""The Optuna sweep loop behind `hydra/sweeper=optuna`.

Hand-written because no maintained package does this for Hydra + current Optuna: hydra-optuna-sweeper
pins optuna<3, cannot prune and runs synchronous batches. Each of n_jobs threads asks for a trial,
launches it through Hydra's launcher (one job per call, so a free worker starts the next trial at once)
and tells the result; jobs report intermediate values themselves (dialsum.sweep.bridge). What defines a
study (fingerprint), stopping (interrupt), retries, and sharing one study with other sweeper processes or
machines (coordination: one budget, heartbeats, the study lock) live in their own modules.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from dialsum import fast_exit
from dialsum.errors import USER_ERROR_EXIT, DialsumError
from dialsum.sweep.liveness import GRACE_ATTR
from dialsum.sweep import app_profile, progress, retries, submitit_jobs, worker_check
from dialsum.sweep.coordination import DONE, Coordinator
from dialsum.sweep.core_share import CoreShare
from dialsum.sweep.interrupt import STOP, SignalStop, SweepInterrupted, terminate_children
from dialsum.sweep.duplicates import DUPLICATE_ATTR
from dialsum.sweep.job_folder import experiment_overrides
from dialsum.sweep.liveness import run_identity
from dialsum.sweep.results import TrialRecord, finish_sweep
from dialsum.sweep.samplers import grid_size, sampler_name
from dialsum.sweep.search_space import SearchSpace, parse_space
from dialsum.sweep import budget, startup_points  # study-wide limits; distinct TPE start-up
from dialsum.sweep.storage import JOURNAL_FILENAME, hide_storage_secret, make_folder, mask_url
from dialsum.sweep.study_setup import check_folder_owner, open_study, record_study
from dialsum.sweep.trial_job import is_finished as _finished
from dialsum.sweep.trial_job import launch, quote, tell, without_exit

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState
MAX_SWEEPER_ERRORS = 3  # errors of the sweep loop itself (storage, tell) before the sweep stops
EXIT_SWEEPER_ERROR = 1  # the machinery failed, trials failed past max_failure_rate, or none succeeded
# (USER_ERROR_EXIT, 2, instead when each failed trial was refused for its input: a bad value, a missing file)


class OptunaSweep:
    """One sweep invocation: build/resume the study, keep n_jobs trials running, write results."""

    def __init__(self, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = submitit_jobs.wrap(Plugins.instance().instantiate_launcher(  # submitit: per-trial jobs
            hydra_context=hydra_context, task_function=without_exit(task_function), config=config))
        self.settings: dict[str, Any] = OmegaConf.to_container(config.hydra.sweeper, resolve=True)
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.lock = threading.Lock()
        self.records: list[TrialRecord] = []
        self.exit_code = 0
        self.stop_reason: str | None = None
        self.sweeper_errors = 0

    # ---- set-up -------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list[TrialRecord]:
        """Validate everything, check the study is the same experiment, then run trials until n_trials."""
        s = self.settings
        fast_exit.install()  # n_jobs=1 runs the jobs in this process: skip the last walk over torch's heap
        space = parse_space(s.get("params"), arguments)
        if not space.distributions:
            raise DialsumError("search space is empty: give hydra.sweeper.params or a sweep on the command "
                               "line, e.g. training.learning_rate='tag(log, interval(1e-4, 1e-2))'.")
        job_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(space.fixed))
        self.app = app_profile.for_job(job_config, s, self.config, self.hydra_context.config_loader)  # or any app
        self.app.check(job_config, space)
        directions, objectives = self.app.objectives(job_config)
        n_jobs = int(s.get("n_jobs", 1))
        worker_check.check_launcher(self.launcher, n_jobs)
        self.app.check_workers(job_config, n_jobs, self.launcher)  # GPU slots; launcher workers = n_jobs
        self.app.check_data(job_config, space, remote=submitit_jobs.kind(self.launcher) == "slurm")
        self.max_retries = int(s.get("max_retries", 1))
        self.n_trials = self._n_trials(space)
        self.limits = budget.Limits.from_settings(self.n_trials, s.get("budget"))  # trials, steps, hours
        budget.warn_if_uncounted(self.limits, self.app.dialsum)
        self.storage_url = str(s.get("storage") or (self.sweep_dir.resolve() / JOURNAL_FILENAME))
        hide_storage_secret(self.config, self.storage_url)
        check_folder_owner(self.sweep_dir, s.get("study_name"))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        make_folder(self.storage_url)
        self.me = run_identity()
        self.coord = Coordinator(s, self.storage_url, self.me)  # storage with heartbeats, study lock, budget
        study, self.forced, self.fp_hash = open_study(s, self.coord.storage, job_config, space, directions,
                                                      objectives, self.app.dialsum)
        record_study(self.sweep_dir, self.storage_url, study)
        if study.user_attrs.get(GRACE_ATTR) != self.coord.grace:  # `dialsum status` judges silence by it
            study.set_user_attr(GRACE_ATTR, self.coord.grace)
        requeued = self.coord.attach(study, n_jobs)
        with self.coord.lock.hold():  # a fresh TPE study on a finite space: distinct start-up points
            startup_points.enqueue_distinct(study, space, s.get("sampler") or {}, self.n_trials)
        if s.get("retry_failed"):
            with self.coord.lock.hold():  # several sweepers given retry_failed re-queue each trial once
                requeued += retries.retry_failed(study)
        log.info("study %s (%s): %d trial(s) to run, %d worker(s); storage %s%s", study.study_name,
                 study.sampler.__class__.__name__, max(0, self.n_trials - retries.counted_trials(study)), n_jobs,
                 mask_url(self.storage_url), f"; re-queued {requeued} trial(s)" if requeued else "")
        self.cores = CoreShare(self.sweep_dir, n_jobs, bool(s.get("share_idle_cores", True)) and self.app.dialsum,
                               str(OmegaConf.select(self.config, "hydra.launcher._target_") or ""))
        started = time.time()
        with SignalStop(on_stop=self._stop_jobs) as stop:  # also while writing results: 2nd Ctrl-C exits
            try:
                self._run(study, space, n_jobs, objectives)
            finally:
                self.coord.close()
                self.cores.close()
            if self.stop_reason is not None and self.stop_reason == self.coord.spent:
                self.stop_reason = budget.final_spend(study, self.limits, self.stop_reason)
            if stop.signum:
                self.stop_reason = f"stopped by {signal.Signals(stop.signum).name}; rerun the same command to finish"
            finish_sweep(study, self.records, self.sweep_dir, self.storage_url, wall_s=time.time() - started,
                         n_jobs=n_jobs, stop_reason=self.stop_reason, script=self.app.script,
                         dialsum_app=self.app.dialsum)
        states = {t.state for t in study.get_trials(deepcopy=False)}
        nothing_done = TrialState.FAIL in states and not states & {TrialState.COMPLETE, TrialState.PRUNED}
        stopped_by_errors = (self.sweeper_errors >= MAX_SWEEPER_ERRORS or self.failed > self.max_failures
                             or nothing_done)
        inputs = [r.extra.get("input") for r in self.records if r.state == "FAIL" and not r.extra.get("requeued")]
        input_only = self.sweeper_errors < MAX_SWEEPER_ERRORS and bool(inputs) and all(inputs)
        code = (USER_ERROR_EXIT if input_only else EXIT_SWEEPER_ERROR) if stopped_by_errors else 0
        self.exit_code = stop.exit_code or code  # scripts see it: 2 when every failure was the input's
        return self.records

    def _stop_jobs(self) -> None:
        """On Ctrl-C/SIGTERM: cancel SLURM jobs (not our children), stop child processes (local workers)."""
        cancel = getattr(self.launcher, "cancel_all", None)
        if cancel is not None:
            cancel()
        terminate_children()

    def _n_trials(self, space: SearchSpace) -> int:
        """n_trials counts the whole study (grid: capped at the grid size)."""
        n_trials = int(self.settings.get("n_trials", 10))
        if sampler_name(self.settings.get("sampler")) == "grid":
            n_trials = min(n_trials, grid_size(space))
        return n_trials

    # ---- the loop -----------------------------------------------------------------------------
    def _run(self, study: optuna.Study, space: SearchSpace, n_jobs: int, objectives: list[str]) -> None:
        """n_jobs threads, each: ask -> launch one job -> tell, until the study holds n_trials trials."""
        self.failed = 0
        self.max_failures = float(self.settings.get("max_failure_rate", 0.5)) * self.n_trials
        threads = [threading.Thread(target=self._worker, args=(study, space, i, n_jobs, objectives),
                                    name=f"dialsum-worker-{i}", daemon=True) for i in range(n_jobs)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):  # a timed join keeps the main thread responsive to signals
            for t in threads:
                t.join(timeout=0.2)

    def _worker(self, study: optuna.Study, space: SearchSpace, worker_id: int, n_jobs: int,
                objectives: list[str]) -> None:
        """One worker thread; an error of the sweep machinery fails that trial, never the thread silently."""
        while True:
            trial = None
            try:
                asked = self._next_trial(study, space, worker_id)
                if asked is None:
                    self.cores.set_idle(worker_id, True)  # the running trials may take its cores
                    return
                trial, decision = asked
                record = self._settled(study, trial, decision, worker_id)
                if record is None:
                    record = self._run_trial(study, trial, space, worker_id, n_jobs, objectives)
            except Exception as err:  # noqa: BLE001 - storage/ask/tell errors: record, log, go on or stop
                record = self._sweeper_error(study, trial, worker_id, err)
            finally:
                if trial is not None:
                    self.coord.release(trial)
            if record is not None:
                self._count(record)
                progress.log_trial(self, study, record)  # "[sweep] trial n/N STATE value | best | ETA"

    def _count(self, record: TrialRecord) -> None:
        """Keep the record; stop launching past max_failure_rate failures of the trials' own making."""
        with self.lock:
            self.records.append(record)
            if record.state != "FAIL" or record.extra.get("requeued"):
                return
            self.failed += 1
            if self.failed > self.max_failures and self.stop_reason is None:
                self.stop_reason = (f"{self.failed} failed trials exceed max_failure_rate="
                                    f"{self.settings.get('max_failure_rate')}; stopping the sweep")
                log.error("%s", self.stop_reason)

    def _sweeper_error(self, study: optuna.Study, trial: optuna.Trial | None, worker_id: int,
                       err: Exception) -> TrialRecord | None:
        """Fail the trial (so it is never left RUNNING), log the error; too many of them stop the sweep."""
        message = f"sweeper error: {type(err).__name__}: {err}"
        if isinstance(err, optuna.exceptions.UpdateFinishedTrialError) and trial is not None:
            log.warning("trial %d was failed and re-queued by another sweeper while this one was silent for longer "
                        "than grace_period; its result here is dropped, the re-queued copy counts", trial.number)
            return None
        log.exception("worker %d: %s", worker_id, message)
        with self.lock:
            self.sweeper_errors += 1
            if self.sweeper_errors >= MAX_SWEEPER_ERRORS and self.stop_reason is None:
                self.stop_reason = f"{self.sweeper_errors} errors of the sweep machinery (last: {message})"
        if trial is None:
            time.sleep(1.0)  # ask failed: give a flaky storage a moment before this worker asks again
            return None
        record = TrialRecord(number=trial.number, params=dict(trial.params), worker=worker_id, start=time.time(),
                             duration_s=0.0, job_dir=None, state="FAIL", error=message)
        try:
            if not _finished(study, trial):
                trial.set_user_attr("error", message)
                trial.set_user_attr("infrastructure", True)
                tell(study, trial, state=TrialState.FAIL)
                if int(trial.user_attrs.get("attempt", 0)) < self.max_retries:
                    retries.requeue(study, trial, "sweeper error")
                    record.extra["requeued"] = True
        except Exception as again:  # noqa: BLE001 - storage unreachable: the next start recovers the trial
            log.error("trial %d could not be marked FAIL (%s); a rerun marks it interrupted", trial.number, again)
        return record

    def _next_trial(self, study: optuna.Study, space: SearchSpace, worker_id: int) -> tuple[optuna.Trial, Any] | None:
        """Ask while the study's shared budget has room (coordination); wait while it is full of running
        trials (they finish, or come back re-queued); None when the study is done or this sweep stops."""
        attrs = {"sweeper": self.me, "fingerprint": self.fp_hash}
        skip = bool(self.settings.get("skip_duplicates", True))
        while True:
            with self.lock:  # this process's threads share the sampler
                if self.stop_reason is not None or STOP.is_set():
                    return None
                asked = self.coord.ask(study, space.distributions, self.limits, attrs, skip, self.forced,
                                       extend=self.app.extend_space)
                if asked == DONE:
                    self.stop_reason = self.stop_reason or self.coord.spent  # a step/hour budget ended it
                    return None
                if isinstance(asked, tuple):
                    self.cores.set_idle(worker_id, False)
                    return asked
            self.cores.set_idle(worker_id, True)  # budget full of running trials: lend them this worker's cores
            self.coord.wait(asked)

    def _settled(self, study: optuna.Study, trial: optuna.Trial, decision: Any, worker_id: int) -> TrialRecord | None:
        """A proposal equal to a finished trial reuses its result; equal to a running one, waits for it first
        (dialsum.sweep.duplicates). None: train it."""
        decision = self.coord.settle(study, trial, decision, self.forced)
        if decision is None:  # stopped while waiting: FAIL + re-queue like any interrupted trial
            record = TrialRecord(number=trial.number, params=dict(trial.params), worker=worker_id, start=time.time(),
                                 duration_s=0.0, job_dir=None)
            retries.record_failure(study, trial, record, SweepInterrupted("stopped while waiting for a twin trial"),
                                   self.max_retries)
            return record
        if decision.action != "reuse":
            return None
        done = decision.source
        trial.set_user_attr(DUPLICATE_ATTR, done.user_attrs.get(DUPLICATE_ATTR, done.number))
        tell(study, trial, values=done.values)
        log.info("trial %d repeats trial %d's parameters: its result is reused, nothing is trained",
                 trial.number, done.number)
        return TrialRecord(number=trial.number, params=dict(trial.params), worker=-1, start=time.time(),
                           duration_s=0.0, job_dir=None, state="COMPLETE", values=done.values)

    def _run_trial(self, study: optuna.Study, trial: optuna.Trial, space: SearchSpace, worker_id: int,
                   n_jobs: int, objectives: list[str]) -> TrialRecord:
        """Launch one job and record COMPLETE / PRUNED / FAIL (re-queued when the machinery failed)."""
        overrides = self.app.trial_overrides(space.fixed, trial.params, trial.number, study.study_name,
                                             mask_url(self.storage_url), n_jobs, self.cores.path)
        trial.set_user_attr("worker", worker_id)
        trial.set_user_attr("overrides", experiment_overrides(overrides))
        started = time.time()
        # the folder of the sweep's start: an interpolated one (multirun/study_${model.name}) moved with the trial
        pinned = f"hydra.sweep.dir={quote(str(self.sweep_dir.resolve()))}"
        outcome, ok, job_dir = launch(self.launcher, [*overrides, pinned], trial.number)
        duration = time.time() - started
        trial.set_user_attr("duration_s", round(duration, 3))
        if job_dir:
            trial.set_user_attr("job_dir", job_dir)
            budget.record_steps(trial, job_dir)  # what it trained counts toward budget.steps
        record = TrialRecord(number=trial.number, params=dict(trial.params), worker=worker_id,
                             start=started, duration_s=duration, job_dir=job_dir)
        if ok:
            values = self.app.values(outcome, job_dir, objectives)
            if values is None:
                outcome, ok = ValueError(self.app.bad_value(outcome, len(objectives))), False
            else:
                record.state, record.values = "COMPLETE", values
                tell(study, trial, values=values)
        if not ok and isinstance(outcome, optuna.TrialPruned):
            record.state = "PRUNED"
            tell(study, trial, state=TrialState.PRUNED)
            record.values = study._storage.get_trial(trial._trial_id).values
        elif not ok:
            retries.record_failure(study, trial, record, outcome, self.max_retries)
        log.info("trial %d %s in %.1f s: %s %s", trial.number, record.state, duration, record.values, trial.params)
        return record
