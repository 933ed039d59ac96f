"""Which sweeper owns a RUNNING trial, whether it is alive, and the heartbeat that proves it across hosts.

A sweeper keeps a heartbeat for every trial it runs. RDB storages (PostgreSQL, SQLite) use Optuna's own
(`storage.record_heartbeat`, the database's clock); Optuna writes it only inside `study.optimize`, which an
ask/tell driver does not use, so the beating thread is written here. The journal file has no heartbeat, so
a timestamp system attribute stands in (one machine: one clock). A trial silent for `grace_period` seconds
is failed by whichever sweeper looks first and its params re-queued (dialsum.sweep.recovery).

Hostnames are not identities (containers share them, hosts rename): the only shortcut without waiting for
the grace period is a sweeper on *this* kernel (same boot_id) and pid namespace whose process is gone.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import warnings
from typing import Any

import optuna

log = logging.getLogger(__name__)
GRACE_ATTR = "grace_period"  # study user attr: the sweep's grace_period, which `dialsum status` judges silence by
HEARTBEAT_ATTR = "dialsum:heartbeat"  # journal storages: unix time of the last beat (system attribute)
START_TIME_TOLERANCE_S = 1.0  # process start times compare equal within this (float rounding in storage)
# dialsum drives ask/tell and beats itself: Optuna's advice to use optimize() does not apply here.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


def _read(path: str) -> str | None:
    """A /proc value, None where there is none (not Linux)."""
    try:
        if path.startswith("/proc/self/ns/"):
            return os.readlink(path)
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def run_identity() -> dict[str, Any]:
    """This sweeper process run: kernel boot, pid namespace, pid and its start time, a random run id.

    `host` is kept for people reading the dashboard; no decision uses it."""
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(), "run_id": uuid.uuid4().hex,
            "started": psutil.Process().create_time(), "boot_id": _read("/proc/sys/kernel/random/boot_id"),
            "pid_ns": _read("/proc/self/ns/pid")}


def owner_is_gone_here(owner: dict[str, Any], me: dict[str, Any]) -> bool:
    """Is the owner a sweeper on this very kernel and pid namespace whose process no longer runs?

    False whenever that cannot be known (another machine or container, an old record): then only a
    stale heartbeat decides."""
    import psutil

    if not owner.get("boot_id") or owner.get("boot_id") != me["boot_id"] or owner.get("pid_ns") != me["pid_ns"]:
        return False
    if me["pid_ns"] is None or owner.get("run_id") == me["run_id"]:
        return False
    pid = int(owner.get("pid", -1))
    if pid == me["pid"]:
        return True  # our pid, another run: the pid was reused
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, ValueError):
        return True
    except psutil.Error:
        return False
    recorded = owner.get("started")
    return recorded is not None and abs(float(recorded) - started) > START_TIME_TOLERANCE_S


def uses_rdb_heartbeat(storage: optuna.storages.BaseStorage) -> bool:
    """Optuna's heartbeat is on (RDB storage opened with heartbeat_interval)."""
    interval = getattr(storage, "get_heartbeat_interval", None)  # RDBStorage and Optuna's cache around it
    return interval is not None and interval() is not None


def beat(storage: optuna.storages.BaseStorage, trial_id: int) -> None:
    """One heartbeat for one trial: Optuna's where it has one, else a timestamp attribute."""
    if uses_rdb_heartbeat(storage):
        storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
    else:
        storage.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())


def silent_rdb_trial_ids(storage: optuna.storages.BaseStorage, study_id: int, grace_s: float) -> set[int]:
    """RUNNING trials whose Optuna heartbeat is older than grace_s by the database's clock: the sweeper that
    beat for them is gone, on whatever machine it ran. Optuna's own test (what fail_stale_trials reads), asked
    without failing anything; empty for a journal, or an RDB nobody beat in."""
    rdb = getattr(storage, "_backend", storage)  # Optuna's cache wraps the RDBStorage
    if not isinstance(rdb, optuna.storages.RDBStorage):
        return set()
    kept = rdb.heartbeat_interval, rdb.grace_period
    rdb.heartbeat_interval, rdb.grace_period = max(1, int(grace_s)), max(1, int(grace_s))  # this reader's only
    try:
        return set(rdb._get_stale_trial_ids(study_id))
    finally:
        rdb.heartbeat_interval, rdb.grace_period = kept


def last_beat(trial: optuna.trial.FrozenTrial) -> float | None:
    """Unix time of a journal trial's last beat (its start when it never beat)."""
    value = trial.system_attrs.get(HEARTBEAT_ATTR)
    if value is not None:
        return float(value)
    return trial.datetime_start.timestamp() if trial.datetime_start else None


class Heartbeats:
    """One thread beating every trial this sweeper holds, every `interval` seconds (one connection, not n_jobs)."""

    def __init__(self, storage: optuna.storages.BaseStorage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dialsum-heartbeat", daemon=True)
        self._thread.start()

    def hold(self, trial_id: int) -> None:
        """Start beating a trial now (called right after ask, under the study lock)."""
        beat(self.storage, trial_id)
        with self._lock:
            self._held.add(trial_id)

    def release(self, trial_id: int) -> None:
        """The trial is finished (told): stop beating it."""
        with self._lock:
            self._held.discard(trial_id)

    def close(self) -> None:
        """Stop the thread (the sweep is over)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                held = sorted(self._held)
            for trial_id in held:
                try:
                    beat(self.storage, trial_id)
                except optuna.exceptions.UpdateFinishedTrialError:
                    self.release(trial_id)  # failed by another sweeper (we were silent too long)
                except Exception as err:  # noqa: BLE001 - a dropped connection: the pool reconnects next beat
                    log.warning("heartbeat for trial id %d failed (%s: %s); retrying in %.0f s", trial_id,
                                type(err).__name__, err, self.interval)
