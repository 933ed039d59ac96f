"""Several sweeper processes (one machine or many) on one study: what each does before and after an ask.

Ties together the study lock (study_lock), the shared budget (budget), heartbeats and recovery of dead
sweepers' trials (liveness, recovery) and duplicate points (duplicates). The sweep loop (optuna_sweep) calls
`ask`, `settle` and `release`; everything that must be atomic across processes happens under the lock.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from dialsum.errors import DialsumError
from dialsum.sweep import budget, duplicates, recovery
from dialsum.sweep.interrupt import STOP
from dialsum.sweep.liveness import Heartbeats
from dialsum.sweep.rdb import HeartbeatSettings, first_line, warn_if_shared_sqlite
from dialsum.sweep.storage import mask_url, open_storage
from dialsum.sweep.study_lock import StudyLock

log = logging.getLogger(__name__)
TrialState = optuna.trial.TrialState
DONE = "done"  # ask(): the study's budget is used up and nothing runs any more
WAIT_LOG_EVERY_S = 30.0


class Coordinator:
    """One sweeper's side of the shared study: storage with heartbeats, lock, budget, recovery."""

    def __init__(self, settings: Mapping[str, Any], storage_url: str, me: dict[str, Any]) -> None:
        self.interval = int(settings.get("heartbeat_interval", 10))
        self.grace = int(settings.get("grace_period", 60))
        if self.interval < 1 or self.grace <= self.interval:
            raise DialsumError(f"hydra.sweeper.heartbeat_interval={self.interval} and grace_period={self.grace}: "
                               "need heartbeat_interval >= 1 s and grace_period > heartbeat_interval (e.g. 10 and 60).")
        self.url = storage_url
        self.me = me
        self.stale = recovery.StaleCallback()
        try:
            self.storage = open_storage(storage_url, HeartbeatSettings(self.interval, self.grace, self.stale))
        except Exception as err:  # noqa: BLE001 - a wrong URL, password or server: one readable line
            server = "://" in storage_url and not storage_url.startswith("sqlite")
            fix = ("postgresql://user:password@host:port/database), that the server runs and accepts this user"
                   if server else "a journal file path, or sqlite:///relative.db / sqlite:////absolute.db), and that "
                   "its folder can be written")
            raise DialsumError(f"cannot open the sweep storage {mask_url(storage_url)}: {type(err).__name__}: "
                               f"{first_line(err)}. Check hydra.sweeper.storage ({fix}; `dialsum doctor "
                               "hydra/sweeper=optuna hydra.sweeper.storage=...` checks it.") from None
        self.poll_s = min(1.0, float(self.interval))
        self._last_wait_log = 0.0
        self._told = threading.Event()  # a trial of this sweeper was told: waiting workers look again at once
        self.spent: str | None = None  # why the step/hour budget ended the asking, once it has

    def attach(self, study: optuna.Study, n_jobs: int) -> int:
        """Start beating, recover dead sweepers' trials, warn about shared SQLite; returns how many re-queued."""
        self.lock = StudyLock(self.storage, self.url, study.study_name)
        self.heartbeats = Heartbeats(self.storage, self.interval)
        with self.lock.hold():
            requeued = recovery.recover(study, self.me, self.grace, self.stale)
        others = {str((t.user_attrs.get("sweeper") or {}).get("run_id"))
                  for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        warn_if_shared_sqlite(self.storage, n_jobs, len(others))
        return requeued

    def close(self) -> None:
        """Stop the heartbeat thread."""
        self.heartbeats.close()

    def ask(self, study: optuna.Study, distributions: dict, limits: budget.Limits, attrs: Mapping[str, Any],
            skip_duplicates: bool, forced: bool, extend: Callable[[optuna.Trial], None] | None = None) -> Any:
        """(trial, decision) when the budget has room; DONE; or a BudgetState to wait on. `extend` adds
        define-by-run params (custom_search_space) before the duplicate check."""
        with self.lock.hold():
            self._told.clear()  # a trial told after this read wakes the wait() below
            recovery.recover(study, self.me, self.grace, self.stale)
            state = budget.read(study)
            self._note_spent(state.spent(limits))
            if state.done(limits):
                return DONE
            if not state.has_room(limits):
                return state
            trial = study.ask()  # then suggest: a failing suggestion (a custom_search_space bug) still leaves a
            self.heartbeats.hold(trial._trial_id)  # trial to fail here, never an orphan RUNNING one
            try:
                for key, value in attrs.items():
                    trial.set_user_attr(key, value)
                suggest_all(trial, distributions)
                if extend is not None:
                    extend(trial)
                decision = duplicates.decide(study, trial, attrs["fingerprint"], forced) if skip_duplicates \
                    else duplicates.Decision("train")
                duplicates.mark(study, trial, decision)
            except Exception as err:
                trial.set_user_attr("error", f"{type(err).__name__}: {err}")
                study.tell(trial, state=TrialState.FAIL)
                self.release(trial)
                raise
            return trial, decision

    def _note_spent(self, reason: str | None) -> None:
        """Log once when the step or hour budget runs out (running trials still finish)."""
        if reason and self.spent is None:
            self.spent = reason
            log.info("%s: no new trials; running ones finish", reason)

    def wait(self, state: budget.BudgetState) -> None:
        """The budget is full of running trials: sleep until one of ours is told, or a poll interval for
        other sweepers' (say so now and then)."""
        now = time.time()
        if now - self._last_wait_log > WAIT_LOG_EVERY_S:
            self._last_wait_log = now
            log.info("budget full: waiting for running trial(s) %s to finish%s", list(state.running),
                     "" if self.spent else f", or to be re-queued when their sweeper stops beating for {self.grace} s")
        if not STOP.is_set():
            self._told.wait(self.poll_s)

    def settle(self, study: optuna.Study, trial: optuna.Trial, decision: duplicates.Decision,
               forced: bool) -> duplicates.Decision | None:
        """Wait while the same point trains elsewhere; the final decision (reuse / train), None when stopping."""
        while decision.action == "wait":
            assert decision.source is not None
            log.info("trial %d has the params of trial %d, which is training now: waiting for its result",
                     trial.number, decision.source.number)
            while duplicates.trial_state(study, decision.source.number) == TrialState.RUNNING:
                if STOP.wait(self.poll_s):
                    return None
                with self.lock.hold():
                    recovery.recover(study, self.me, self.grace, self.stale)
            with self.lock.hold():
                decision = duplicates.decide(study, trial, trial.user_attrs["fingerprint"], forced)
                duplicates.mark(study, trial, decision)
        return decision

    def release(self, trial: optuna.Trial) -> None:
        """The trial is told: stop beating it, wake the workers waiting on the budget."""
        self.heartbeats.release(trial._trial_id)
        self._told.set()


def suggest_all(trial: optuna.Trial, distributions: dict[str, BaseDistribution]) -> None:
    """What study.ask(distributions) does after creating the trial, through the public suggest API."""
    for name, dist in distributions.items():
        if isinstance(dist, CategoricalDistribution):
            trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
