"""Trials as submitit jobs (hydra/launcher=submitit_local | submitit_slurm): one job per trial, n_jobs in flight.

hydra-submitit-launcher 1.2.0's `launch()` submits its batch and blocks until every job of it returns, so
Hydra's own sweepers wait per batch (hydra#3091). Its state is safe to share between threads (each call
builds its own executor; `params`/`config` are only read), so the sweeper's threads could call it for one
job each. dialsum submits through the same executor settings and the same job callable (the launcher's
`__call__`, i.e. Hydra's `run_job`) but keeps the job handle, which `launch()` hides, for what a sweep needs:
  - stopping: SLURM jobs are not child processes of the sweeper; on Ctrl-C/SIGTERM they are `scancel`ed;
  - preemption: inside the job SIGTERM (preemption, scancel) stops training at the next step and the job ends
    as `JobPreempted`; the sweeper re-queues the params as a new trial (SLURM's own requeue is switched off
    with `--no-requeue`, so a trial never runs twice under one number). A job killed before it could say so
    (no result, state PREEMPTED/CANCELLED) ends the same way;
  - logs: submitit's stdout/stderr files are linked into the trial's job folder (submitit.out / submitit.err).
Written here because no kept library does per-trial submission with these outcomes.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from dialsum.sweep.interrupt import SweepInterrupted, stop_job

log = logging.getLogger(__name__)

KINDS = {"LocalLauncher": "local", "SlurmLauncher": "slurm"}  # hydra_submitit_launcher's classes
# SLURM preemption/scancel (TERM); submitit's signal (USR2: time limit, or preemption); Ctrl-C to a local job (INT)
PREEMPT_SIGNALS = ("SIGTERM", "SIGUSR2", "SIGINT")
ENDED_BY_SCHEDULER = ("PREEMPTED", "CANCELLED", "GONE")  # no result and one of these: interrupted, re-queue
STILL_RUNNING = ("RUNNING", "COMPLETING", "PENDING", "CONFIGURING", "SUSPENDED", "UNKNOWN")
POLL_S = 1.0
STOP_WAIT_S = 40.0  # a stopped job's grace (SLURM's KillWait is 30 s by default), then it counts as killed
SQUEUE_EVERY_S = 15.0
LOG_LINKS = {"stdout": "submitit.out", "stderr": "submitit.err"}


class JobPreempted(SweepInterrupted):
    """The job was stopped from outside (SLURM preemption, scancel, SIGTERM): its params are re-queued."""


class JobTimedOut(Exception):
    """The job reached its time limit (hydra.launcher.timeout_min): the trial's own failure, not re-queued."""


def kind(launcher: Any) -> str | None:
    """'local' / 'slurm' for hydra-submitit-launcher's launchers (wrapped or not), else None."""
    if isinstance(launcher, SubmititTrials):
        return launcher.kind
    return next((k for name, k in KINDS.items() if any(c.__name__ == name for c in type(launcher).__mro__)), None)


def wrap(launcher: Any) -> Any:
    """The launcher the sweeper uses: submitit's get per-trial submission, any other is returned as is."""
    return SubmititTrials(launcher) if kind(launcher) else launcher


class TrialCall:
    """What runs inside the job: the launcher's own job function, with dialsum's handling of stop signals."""

    def __init__(self, launcher: Any, timeout_min: float) -> None:
        self.launcher = launcher
        self.timeout_min = timeout_min

    def __call__(self, *args: Any) -> Any:
        started = time.time()

        def on_signal(signum: int, frame: Any) -> None:
            name = signal.Signals(signum).name
            if signum == signal.SIGUSR2 and _near_time_limit(time.time() - started, self.timeout_min):
                stop_job(JobTimedOut(f"the job reached its time limit (hydra.launcher.timeout_min={self.timeout_min});"
                                     " raise it, or train fewer steps"))
            else:
                stop_job(JobPreempted(f"the job got {name} (SLURM preemption, scancel or a stop): its params are "
                                      "re-queued"))
            log.warning("%s received: stopping at the next training step", name)

        for name in PREEMPT_SIGNALS:  # installed after submitit's own handlers (which ignore SIGTERM)
            signal.signal(getattr(signal, name), on_signal)
        return self.launcher(*args)


def _near_time_limit(elapsed_s: float, timeout_min: float) -> bool:
    """submitit's rule for "this USR2 is the time limit, not a preemption"."""
    limit = timeout_min * 60
    return elapsed_s >= min(limit * 0.8, limit - 600)


class _SacctOnce(logging.Filter):
    """A cluster without an accounting database fails every sacct call; say so once, not at every poll."""

    seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "Bypassing sacct error" not in record.getMessage():
            return True
        if _SacctOnce.seen:
            return False
        _SacctOnce.seen = True
        record.msg = f"{record.getMessage()} (said once; dialsum falls back to squeue)"
        record.args = ()
        return True


class SubmititTrials:
    """launch([one job's overrides], number) -> [JobReturn], callable from n_jobs threads at once."""

    def __init__(self, launcher: Any) -> None:
        logging.getLogger("submitit").addFilter(_SacctOnce())
        self.launcher = launcher
        self.kind = kind(launcher)
        self.params: dict[str, Any] = launcher.params  # hydra.launcher settings (check_workers may adjust)
        self._lock = threading.Lock()     # submitit's SLURM status watcher is shared by every job
        self._jobs: dict[str, Any] = {}   # in flight, for cancel_all
        self._stopping = False

    def __getattr__(self, name: str) -> Any:
        if name == "launcher":  # not set yet (copy/pickle): no recursion
            raise AttributeError(name)
        return getattr(self.launcher, name)

    def setup(self, **kwargs: Any) -> None:
        self.launcher.setup(**kwargs)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
        """Submit each job (normally one) and wait for it; a job that ends without a result raises."""
        from hydra.core.singleton import Singleton

        executor = self._executor()
        returns = []
        for i, overrides in enumerate(job_overrides):
            number = initial_job_idx + i
            with self._lock:
                if self._stopping:
                    raise SweepInterrupted("the sweep is stopping: job not submitted")
                job = executor.submit(TrialCall(self.launcher, float(self.params.get("timeout_min") or 60)),
                                      list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}",
                                      Singleton.get_state())
                self._jobs[job.job_id] = job
            log.info("trial job %d submitted: submitit %s job %s, logs %s", number, self.kind, job.job_id,
                     job.paths.stdout)
            try:
                returns.append(self._result(job))
            finally:
                with self._lock:
                    self._jobs.pop(job.job_id, None)
        return returns

    def cancel_all(self) -> int:
        """Stop submitting, cancel the SLURM jobs in flight (local jobs are children: the sweeper stops them)."""
        with self._lock:
            self._stopping = True
            jobs = list(self._jobs.values())
        if self.kind != "slurm":
            return 0
        for job in jobs:
            try:
                job.cancel(check=False)  # scancel: SIGTERM to the job, which ends as JobPreempted
            except OSError as err:
                log.warning("could not cancel SLURM job %s: %s", job.job_id, err)
        return len(jobs)

    # ---- internals ----------------------------------------------------------------------------------
    def _executor(self) -> Any:
        """The executor hydra-submitit-launcher would build from hydra.launcher (same keys, same meaning)."""
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self.kind}_max_num_timeout"] = params.pop("max_num_timeout")
        if self.kind == "slurm":  # the sweeper re-queues the params; SLURM must not rerun the same trial
            params["additional_parameters"] = {"no_requeue": True, **(params.get("additional_parameters") or {})}
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor = submitit.AutoExecutor(cluster=self.kind, **init)
        executor.update_parameters(**{k if k in base else f"{self.kind}_{k}": v for k, v in params.items()})
        return executor

    def _result(self, job: Any) -> Any:
        """Wait for the job; its JobReturn, or JobPreempted / submitit's error when it left no result."""
        from submitit.core.utils import UncompletedJobError

        last_squeue = time.time()
        while not self._stopping:
            with self._lock:
                done = job.done()
            if done:
                break
            if self.kind == "slurm" and time.time() - last_squeue > SQUEUE_EVERY_S:
                last_squeue = time.time()
                if slurm_state(job) in ENDED_BY_SCHEDULER:
                    break  # PREEMPTED is final with --no-requeue; submitit would wait for a requeue forever
            time.sleep(POLL_S)
        if self._stopping and not self._ended_after_stop(job):  # no 15 s wait for a result that never comes
            raise JobPreempted(f"{self.kind} job {job.job_id} was stopped with the sweep; logs: {job.paths.stdout}")
        try:
            ret = job.result()
        except UncompletedJobError as err:
            state = slurm_state(job) if self.kind == "slurm" else _local_state(job)
            if state in ENDED_BY_SCHEDULER or self._stopping:
                raise JobPreempted(f"{self.kind} job {job.job_id} ended {state} without a result; logs: "
                                   f"{job.paths.stdout}") from err
            raise
        link_logs(job, ret)
        return ret

    def _ended_after_stop(self, job: Any) -> bool:
        """The sweep is stopping and so is this job: did it leave its result (else it was killed or pending)?"""
        deadline = time.time() + STOP_WAIT_S
        while time.time() < deadline and not job.paths.result_pickle.exists():
            if self.kind == "local" and job.done():
                break
            if self.kind == "slurm" and slurm_state(job) not in STILL_RUNNING:
                break
            time.sleep(0.5)
        return job.paths.result_pickle.exists()


def slurm_state(job: Any) -> str:
    """The job's SLURM state: sacct (submitit's watcher), else squeue (no accounting database), else GONE."""
    state = str(job.state).split()[0].upper()
    if state != "UNKNOWN":
        return state
    try:
        out = subprocess.run(["squeue", "-h", "-j", str(job.job_id), "-o", "%T"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "UNKNOWN"
    lines = out.stdout.split()
    return lines[0].upper() if lines else ("GONE" if out.returncode == 0 or "Invalid job" in out.stderr else "UNKNOWN")


def _local_state(job: Any) -> str:
    """A local job killed by a signal reads INTERRUPTED; name it CANCELLED like SLURM would."""
    state = str(job.state)
    return "CANCELLED" if state == "INTERRUPTED" else state


def link_logs(job: Any, ret: Any) -> None:
    """submitit.out / submitit.err in the trial's job folder point at submitit's log files."""
    try:
        job_dir = Path(str(ret.hydra_cfg.hydra.runtime.output_dir))
    except AttributeError:
        return
    for attr, name in LOG_LINKS.items():
        target, link = Path(getattr(job.paths, attr)), job_dir / name
        if target.exists() and job_dir.is_dir() and not link.exists():
            try:
                link.symlink_to(os.path.relpath(target.resolve(), job_dir.resolve()))
            except OSError as err:
                log.debug("could not link %s: %s", link, err)
