"""RDB storages (PostgreSQL for several machines, SQLite for one): connection pool, start-up retries, warnings.

Optuna's RDBStorage does the work; what is set here: a pool that tests connections before use
(`pool_pre_ping`, so a connection the server or a NAT dropped while a trial trained is replaced instead of
failing the next tell) and recycles them, retries while several sweepers create the same fresh schema at once,
and Optuna's heartbeat settings for the sweeper process.
"""
from __future__ import annotations

import logging
import re
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import optuna

log = logging.getLogger(__name__)
OPEN_ATTEMPTS = 4
OPEN_BACKOFF_S = 0.5
POOL_RECYCLE_S = 1800  # below common server/NAT idle timeouts
# PostgreSQL's words for what no retry cures (a table that "does not exist" yet is a schema race: retried)
PERMANENT = re.compile(r'password authentication failed|no password supplied|(database|role) "[^"]*" does not exist')
SQLITE_ADVICE = ("SQLite is meant for one process: several sweepers (or n_jobs > 1) writing one SQLite file "
                 "hit lock errors under load (Optuna's FAQ). On one machine leave hydra.sweeper.storage=null "
                 "(a journal file, safe for several processes); across machines use PostgreSQL, e.g. "
                 "hydra.sweeper.storage=${oc.env:DIALSUM_STORAGE} with DIALSUM_STORAGE=postgresql://user:pw@host/db.")


@dataclass
class HeartbeatSettings:
    """The sweeper's heartbeat: every `interval` s; a trial silent for `grace` s is failed and re-queued."""

    interval: int
    grace: int
    on_stale: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None


def engine_kwargs(url: str) -> dict[str, Any]:
    """Pool settings for server databases; SQLite keeps SQLAlchemy's defaults."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True, "pool_recycle": POOL_RECYCLE_S}


def open_rdb(url: str, heartbeat: HeartbeatSettings | None = None) -> optuna.storages.RDBStorage:
    """RDBStorage with the pool above; a few retries while another sweeper creates the tables."""
    kwargs: dict[str, Any] = {"engine_kwargs": engine_kwargs(url)}
    if heartbeat is not None:
        kwargs.update(heartbeat_interval=heartbeat.interval, grace_period=heartbeat.grace,
                      heartbeat_stale_trial_callback=heartbeat.on_stale)
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kwargs)
        except Exception as err:  # noqa: BLE001 - concurrent schema creation, a server still starting
            if attempt == OPEN_ATTEMPTS or not _transient(err):
                raise
            log.warning("storage not ready (%s: %s); retrying", type(err).__name__, first_line(err))
            time.sleep(OPEN_BACKOFF_S * attempt)
    raise AssertionError("unreachable")


def _transient(err: BaseException) -> bool:
    """Errors a retry can cure: connection refused/dropped, a unique-key race on CREATE TABLE (not a refused
    password or a missing database: retrying those only delays the message)."""
    from sqlalchemy import exc

    if PERMANENT.search(str(err)):
        return False
    return isinstance(err, (exc.OperationalError, exc.IntegrityError, exc.ProgrammingError,
                            optuna.exceptions.StorageInternalError))


def first_line(err: BaseException) -> str:
    """The driver's own message without SQLAlchemy's appended SQL and background link."""
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def is_sqlite(storage: optuna.storages.BaseStorage) -> bool:
    """Is this an SQLite RDB storage (one process only, per Optuna's advice)?"""
    return isinstance(storage, optuna.storages.RDBStorage) and storage.engine.dialect.name == "sqlite"


def warn_if_shared_sqlite(storage: optuna.storages.BaseStorage, n_jobs: int, other_sweepers: int) -> bool:
    """Warn once when an SQLite study is written by several processes; True when it warned."""
    if not is_sqlite(storage) or (n_jobs <= 1 and other_sweepers == 0):
        return False
    who = f"{other_sweepers} other sweeper(s) are running trials of this study" if other_sweepers else \
        f"n_jobs={n_jobs} worker processes report to it"
    log.warning("SQLite storage shared by several processes (%s). %s", who, SQLITE_ADVICE)
    return True
