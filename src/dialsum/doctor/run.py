"""Checks of what a run will use: the config, the data, the pretrained checkpoint, the sweep storage, and
optionally a quick_test run end to end. The data and tokenizer go through the same code as training."""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from dialsum.doctor.machine import cannot_write
from dialsum.doctor.result import Check, fail, ok, warn
from dialsum.errors import DialsumError
from dialsum.models.checkpoint import cached_file, checkpoint_name

STORAGE_TIMEOUT_S = 5          # a PostgreSQL/MySQL server that does not answer within this is "unreachable"
QUICK_TIMEOUT_S = 1800         # quick_test takes about a minute on CPU; a pretrained model on a slow disk more
TAIL_LINES = 3                 # lines of a failed quick run's stderr shown
HUB_TIMEOUT_S = 10
OFFLINE_VALUES = ("1", "true", "yes", "on")


def config(cfg: Any) -> list[Check]:
    """Mistyped values and impossible hardware settings (what train.py refuses before any work)."""
    from dialsum.config_schema import job_problems
    from dialsum.engine.metric_names import check_objective
    from dialsum.sweep.devices import check_hardware

    problems = job_problems(cfg)
    with _captured("dialsum.sweep.devices") as warnings:  # e.g. fp16 with T5/mT5 (NaN loss)
        try:
            check_objective(cfg.objective.metric, cfg.objective.direction)
            check_hardware(cfg.hardware, cfg.model)
        except DialsumError as err:
            problems.append(str(err))
    if problems:
        return [fail("config", p) for p in problems]
    return [ok("config", f"model={cfg.model.name} ({cfg.model.init}), data={cfg.data.name}, "
                         f"hardware.accelerator={cfg.hardware.accelerator}, logger={cfg.logger.name}")] + [
        warn("config", message) for message in warnings]


def data(cfg: Any) -> list[Check]:
    """Load and validate the splits like training does (without the cache), with its warnings."""
    from dialsum.data.splits import load_splits, resolve_paths

    with _captured("dialsum.data") as warnings:
        try:
            splits = load_splits(cfg.data, cache_dir=None, with_test=False)
        except DialsumError as err:
            return [fail("data", str(err))]
    checks = [ok("data", f"{cfg.data.name}: {len(splits.train)} train / {len(splits.val)} val rows load and validate")]
    checks += [warn("data", message) for message in warnings]
    test = resolve_paths(cfg.data).get("test")
    if test is not None and not Path(test).is_file():
        checks.append(warn("data", f"test file {test} does not exist (training does not need it; predict.py does)",
                           "set data.test_path before predicting"))
    return checks


@contextlib.contextmanager
def _captured(logger_name: str) -> Iterator[list[str]]:
    """Warnings a logger emits meanwhile (duplicates, leakage, small validation set)."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = _Collect(level=logging.WARNING)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def checkpoint(model: Any, max_new_tokens: int = 0) -> list[Check]:
    """A pretrained checkpoint is a local folder or in the HF cache (no network when offline), and its
    tokenizer has what the family needs."""
    if model.init != "pretrained":
        return [ok("model", f"model.init={model.init}: a tiny {model.family} built here, nothing to download")]
    name = checkpoint_name(model)
    if Path(name).is_dir():
        where = f"local folder {name}"
    elif cached_file(name, "config.json"):
        where = "the Hugging Face cache"
    elif hub_offline():
        return [fail("model", f"{name} is not a local folder and not in the Hugging Face cache, and HF_HUB_OFFLINE "
                              "is set", f"on a machine with internet run `hf download {name}` and copy "
                              "~/.cache/huggingface here, or set model.pretrained_name_or_path=/path/to/checkpoint")]
    else:
        return [_hub_reachable(name)]
    return [_tokenizer_check(model, name, where, max_new_tokens)]


def hub_offline() -> bool:
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set: nothing may be fetched."""
    return any(os.environ.get(k, "").lower() in OFFLINE_VALUES for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hub_reachable(name: str) -> Check:
    """Not cached, online allowed: does the hub have it? (the first run then downloads it)."""
    from huggingface_hub import model_info

    try:
        model_info(name, timeout=HUB_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - not found, no network, proxy: all mean the run cannot load it
        return fail("model", f"{name} is not in the Hugging Face cache and the hub does not serve it "
                             f"({type(err).__name__})", f"check the id, or `hf download {name}` where there is "
                             "internet, or set model.pretrained_name_or_path=/path/to/checkpoint")
    return warn("model", f"{name} is not cached yet: the first run downloads it from the hub",
                f"`hf download {name}` now, so parallel sweep workers do not all download it")


def _tokenizer_check(model: Any, name: str, where: str, max_new_tokens: int) -> Check:
    """dialsum's own tokenizer loading and special-token checks, from local files only."""
    from dialsum.models.checkpoint import check_loadable
    from dialsum.models.registry import get_family

    try:
        tokenizer = check_loadable(model, get_family(model.family), max_new_tokens, local_files_only=True)
    except DialsumError as err:
        return fail("model", str(err))
    return ok("model", f"{name} in {where}; tokenizer {type(tokenizer).__name__}, {len(tokenizer)} tokens, "
                       f"eos {tokenizer.eos_token!r}, pad {tokenizer.pad_token!r}")


def storage(url: str | None) -> list[Check]:
    """The sweep storage opens (a database server answers within STORAGE_TIMEOUT_S); the password is masked."""
    from dialsum.sweep.storage import mask_url, unmask_url

    if not url:
        return [ok("storage", "none set: a sweep keeps its study in a journal file in its folder")]
    shown = mask_url(url)
    try:
        real = unmask_url(url)
    except DialsumError as err:
        return [fail("storage", str(err))]
    if "://" not in real or real.startswith("sqlite"):
        return [_file_storage(real, shown)]
    return [_server_storage(real, shown)]


def _file_storage(url: str, shown: str) -> Check:
    """A journal file or SQLite database: its folder must be writable."""
    if url.startswith("sqlite") and ":///" not in url:
        return fail("storage", f"{shown} is not an SQLite URL", "write sqlite:///relative/path.db (three slashes) "
                    "or sqlite:////absolute/path.db (four)")
    path = Path(url.split(":///", 1)[1]) if url.startswith("sqlite") else Path(url)
    problem = cannot_write(path.parent)
    if problem:
        return fail("storage", f"{shown}: {problem}", "choose a storage path in a writable folder")
    note = " (SQLite: fine for one sweeper; use PostgreSQL or a journal file for parallel ones)" if url.startswith("sqlite") else ""
    return ok("storage", f"{shown} is writable{note}")


def _server_storage(url: str, shown: str) -> Check:
    """Connect to PostgreSQL/MySQL with a short timeout; driver or connection errors name the fix."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import NoSuchModuleError

    try:
        engine = create_engine(url, connect_args={"connect_timeout": STORAGE_TIMEOUT_S})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except (ImportError, ModuleNotFoundError) as err:
        return fail("storage", f"{shown}: its database driver is not installed ({err})",
                    "make install (installs the project's PostgreSQL driver)")
    except NoSuchModuleError as err:  # `postgresq://`: SQLAlchemy knows no such database kind
        return fail("storage", f"{shown}: unknown database kind ({err})",
                    "the URL starts with postgresql:// (or sqlite:///path.db)")
    except Exception as err:  # noqa: BLE001 - refused, unknown host, auth, timeout: the URL or the server
        message = " ".join(str(err).replace(url, shown).split())[:200]
        return fail("storage", f"{shown} does not answer: {type(err).__name__}: {message}",
                    "check host, port, user and database, that the server runs and accepts this machine, and "
                    "DIALSUM_STORAGE")
    return ok("storage", f"{shown} answers")


def quick_run(overrides: list[str], project_root: Path) -> list[Check]:
    """`python train.py experiment=quick_test <overrides>` in a subprocess, into a temporary folder."""
    train_py = project_root / "train.py"
    if not train_py.is_file():
        return [fail("quick", f"{train_py} not found", "run dialsum doctor --quick from the project folder")]
    out = Path(tempfile.mkdtemp(prefix="dialsum-doctor-"))
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, str(train_py), "experiment=quick_test", *overrides,
                                 f"hydra.run.dir={out}"], cwd=project_root, capture_output=True, text=True,
                                timeout=QUICK_TIMEOUT_S, stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            tail = " | ".join(line for line in result.stderr.strip().splitlines()[-TAIL_LINES:])
            return [fail("quick", f"quick_test exited with {result.returncode} after {elapsed:.0f} s: {tail}",
                         f"rerun `python train.py experiment=quick_test {' '.join(overrides)}` to see the whole log")]
        return [ok("quick", f"experiment=quick_test trained and evaluated end to end in {elapsed:.0f} s")]
    except subprocess.TimeoutExpired:
        return [fail("quick", f"quick_test did not finish within {QUICK_TIMEOUT_S} s", "run it by hand to see where it hangs")]
    finally:
        shutil.rmtree(out, ignore_errors=True)
