"""Optuna storage from a URL: RDB URLs as is, a plain path = a journal file safe for several processes.

A URL's password is never written anywhere (files, logs, job configs): everything shown uses
`mask_url`, and jobs get the real URL through the TRIAL_STORAGE_ENV environment variable, which worker
processes inherit from the sweeper.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from dialsum.sweep.rdb import HeartbeatSettings

JOURNAL_FILENAME = "optuna_journal.log"  # default storage inside the sweep folder
STUDY_FILENAME = "study.json"  # the sweep folder's (masked) storage URL and study name, from the start on
TRIAL_STORAGE_ENV = "DIALSUM_TRIAL_STORAGE"  # set by the sweeper for its jobs when the URL has a password
USER_STORAGE_ENV = "DIALSUM_STORAGE"  # documented: hydra.sweeper.storage=${oc.env:DIALSUM_STORAGE}
MASK = "***"


def open_storage(url: str, heartbeat: "HeartbeatSettings | None" = None) -> optuna.storages.BaseStorage:
    """`sqlite:///x.db`, `postgresql://...` -> RDBStorage; anything else is a journal file path.

    `heartbeat` (the sweeper's, not the jobs') turns on Optuna's RDB heartbeat with its stale-trial callback."""
    url = unmask_url(url)
    if "://" in url:
        from dialsum.sweep.rdb import open_rdb

        return open_rdb(url, heartbeat)
    path = Path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def make_folder(url: str) -> None:
    """The sweeper makes its storage's folder: SQLite creates the file but not its folder (a journal's is made
    by open_storage). Readers (status, report) make nothing: a mistyped path stays an error there."""
    url = unmask_url(url)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.split(":///", 1)[1].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)


def password(url: str) -> str | None:
    """The URL's password, None when it has none (journal paths, sqlite)."""
    if "://" not in url:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except ArgumentError:
        return None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***: what logs, files and printed commands show."""
    if not password(url):
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def unmask_url(url: str) -> str:
    """A masked URL back to the real one, from the environment (jobs, `dialsum report`)."""
    if MASK not in url:
        return url
    for name in (TRIAL_STORAGE_ENV, USER_STORAGE_ENV):
        real = os.environ.get(name)
        if real and mask_url(real) == url:
            return real
    from dialsum.errors import DialsumError

    raise DialsumError(f"storage {url}: the password is never written down; set {USER_STORAGE_ENV}=<the full "
                       "URL> in the environment.")


def dashboard_command(url: str) -> str:
    """The exact optuna-dashboard command for this storage (the password as an environment reference)."""
    if password(url):
        return f'optuna-dashboard "${USER_STORAGE_ENV}" --host 127.0.0.1 --port 8080   # {USER_STORAGE_ENV}={mask_url(url)}'
    return f"optuna-dashboard {url} --host 127.0.0.1 --port 8080"


def hide_storage_secret(config: "DictConfig", url: str) -> None:
    """Jobs (and Hydra's .hydra files of every job) see the masked URL; the real one travels in the
    environment, which worker processes (loky, submitit) inherit from the sweeper."""
    if not password(url):
        return
    from omegaconf import read_write

    os.environ[TRIAL_STORAGE_ENV] = url
    masked = mask_url(url)
    with read_write(config):
        kept = [o for o in config.hydra.overrides.hydra if not str(o).lstrip("+~").startswith("hydra.sweeper.storage=")]
        config.hydra.overrides.hydra = kept + [f"hydra.sweeper.storage='{masked}'"]  # how jobs recompose
        config.hydra.sweeper.storage = masked


def read_marker(sweep_dir: Path) -> dict[str, Any]:
    """The sweeper's study.json ({} when absent or unreadable: the other sources decide)."""
    try:
        marker = json.loads((Path(sweep_dir) / STUDY_FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}
