"""Optuna storage from a URL: RDB URLs as is, a plain path = a journal file safe for several processes."""
from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

JOURNAL_FILENAME = "optuna_journal.log"  # default storage inside the sweep folder


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """`sqlite:///x.db`, `postgresql://...` -> RDBStorage; anything else is a journal file path."""
    if "://" in url:
        return optuna.storages.RDBStorage(url)
    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def dashboard_command(url: str) -> str:
    """The exact optuna-dashboard command for this storage."""
    return f"optuna-dashboard {url} --host 127.0.0.1 --port 8080"
