"""One lock per study across every sweeper process and machine, so "count the budget, then ask" is atomic.

Optuna has no such lock: two sweepers that both see 5 of 6 trials used would both ask, and the study would
run 7. Hand-written on the storage's own locking, so no new server is needed: PostgreSQL's transaction
advisory lock (`pg_advisory_xact_lock`, released by the server when the holder's connection dies, so a
SIGKILLed sweeper never leaves it held), MySQL's `GET_LOCK`, and `fcntl.flock` on a file beside a journal
or SQLite file (released by the kernel when the process dies). Other storages get a lock inside this
process only.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
from pathlib import Path
from typing import Iterator

import optuna

log = logging.getLogger(__name__)
LOCK_SUFFIX = ".dialsum.lock"


def lock_key(study_name: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory lock, stable across processes and machines."""
    digest = hashlib.sha256(f"dialsum-study:{study_name}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class StudyLock:
    """`with lock.hold():` excludes every other sweeper of this study for the block."""

    def __init__(self, storage: optuna.storages.BaseStorage, storage_url: str, study_name: str) -> None:
        self.storage = storage
        self.study_name = study_name
        self._threads = threading.RLock()  # threads of this process; the storage lock is per connection/file
        self.kind, self._path = _kind(storage, storage_url)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the study's lock for the block (blocks until the current holder releases it)."""
        with self._threads:
            if self.kind == "postgresql":
                with self._postgres():
                    yield
            elif self.kind == "mysql":
                with self._mysql():
                    yield
            elif self._path is not None:
                with self._file():
                    yield
            else:
                yield

    @contextlib.contextmanager
    def _postgres(self) -> Iterator[None]:
        """A transaction-scoped advisory lock on a connection of Optuna's own engine."""
        from sqlalchemy import text

        with self.storage.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(self.study_name)})
            yield  # commit (or rollback on error) releases it

    @contextlib.contextmanager
    def _mysql(self) -> Iterator[None]:
        """MySQL's named lock, released explicitly (and by the server when the connection dies)."""
        from sqlalchemy import text

        name = f"dialsum-{lock_key(self.study_name)}"
        with self.storage.engine.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text("SELECT GET_LOCK(:name, -1)"), {"name": name})
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})

    @contextlib.contextmanager
    def _file(self) -> Iterator[None]:
        """flock on a file beside the journal/SQLite file (one machine; not over NFS, like the journal)."""
        assert self._path is not None
        with open(self._path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _kind(storage: optuna.storages.BaseStorage, storage_url: str) -> tuple[str, Path | None]:
    """Which lock this storage gets: postgresql, mysql, file (with its path) or local."""
    if isinstance(storage, optuna.storages.RDBStorage):
        dialect = storage.engine.dialect.name
        if dialect in ("postgresql", "mysql"):
            return dialect, None
        database = storage.engine.url.database
        if dialect == "sqlite" and database and database != ":memory:":
            return "file", Path(database + LOCK_SUFFIX)
        return "local", None
    if "://" not in storage_url:  # a journal file path
        return "file", Path(storage_url + LOCK_SUFFIX)
    return "local", None
