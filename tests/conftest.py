"""Shared fixtures: offline environment, composed configs, and the real CLI in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = ROOT.parent / "shared" / "data" / "dialogsum_ko"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache (synthetic data, tokenizers, features) for the whole test session."""
    path = tmp_path_factory.mktemp("dialsum_cache")
    os.environ["DIALSUM_CACHE"] = str(path)
    return path


def compose_cfg(overrides: list[str] | None = None, config_name: str = "train") -> DictConfig:
    """Compose like `python train.py <overrides>` would, without running."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [])


@pytest.fixture
def make_cfg(cache_dir: Path):
    """Compose a config whose cache is the session cache."""

    def _make(*overrides: str) -> DictConfig:
        return compose_cfg([f"paths.cache_dir={cache_dir}", *overrides])

    return _make


def run_cli(args: list[str], cwd: Path, cache_dir: Path, script: str = "train.py",
            timeout: int = 600, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python train.py ...` exactly as a user would, in a subprocess."""
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def ctrl_c_as_in_a_terminal() -> None:
    """Popen preexec_fn: a child that Ctrl-C can reach, even when the test run itself was started in the background
    (a non-interactive shell starts `cmd &` with SIGINT ignored, and children inherit that)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (tests/postgres.py), started on first use."""
    from postgres import PostgresServer

    server = PostgresServer(listen="*")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database on the session's PostgreSQL server."""
    return postgres_server.create_database()
