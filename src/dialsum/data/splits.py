"""Turn the `data` config into validated, normalised train/val/test frames."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
from omegaconf import DictConfig

from dialsum.data.checks import report_duplicates, report_leakage, warn_small_validation
from dialsum.data.csv_io import read_dialogue_csv
from dialsum.data.normalize import normalize_text
from dialsum.errors import DialsumError
from dialsum.tracking.atomic import write_bytes

log = logging.getLogger(__name__)


@dataclass
class DataSplits:
    """The frames one run trains, validates and tests on."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame | None


def resolve_paths(data_cfg: DictConfig) -> dict[str, Path | None]:
    """CSV paths for each split; the synthetic set is generated into the cache on first use."""
    if data_cfg.source == "synthetic":
        return _synthetic_paths(data_cfg.synthetic)
    if data_cfg.source != "csv":
        raise DialsumError(f"data.source={data_cfg.source!r} is unknown; use 'synthetic' or 'csv'.")
    for key in ("train_path", "val_path"):
        if not data_cfg.get(key):
            raise DialsumError(f"data.{key} is not set; give the path of your CSV.")
    test = data_cfg.get("test_path")
    return {"train": Path(data_cfg.train_path).expanduser(), "val": Path(data_cfg.val_path).expanduser(),
            "test": Path(test).expanduser() if test else None}


def _synthetic_paths(syn: DictConfig) -> dict[str, Path | None]:
    """Generate once per (sizes, seed); concurrent workers write identical files atomically."""
    from dialsum.data.synthetic import GENERATOR_VERSION, write_splits

    sizes = {"train": int(syn.n_train), "val": int(syn.n_val), "test": int(syn.n_test)}
    folder = Path(syn.dir) / f"v{GENERATOR_VERSION}_n{sizes['train']}-{sizes['val']}-{sizes['test']}_seed{syn.seed}"
    paths = {split: folder / f"{split}.csv" for split in sizes}
    if not all(p.is_file() for p in paths.values()):
        write_splits(folder, sizes, int(syn.seed))
        log.info("generated the synthetic Korean dialogue set in %s", folder)
    return dict(paths)


PREPARED_VERSION = "3"  # bump when preparation changes: cached prepared splits are then ignored


def load_splits(data_cfg: DictConfig, cache_dir: Path | None = None, with_test: bool = True) -> DataSplits:
    """Validated, normalised, capped splits; with a cache_dir, prepared once per (files, settings).

    A cache hit replays the warnings the first preparation logged (duplicates, leakage, small validation),
    so every run still says what is wrong with its data. Training passes with_test=False: it never reads
    the test CSV, so the file need not exist (predict.py reads it)."""
    paths = resolve_paths(data_cfg)
    if not with_test:
        paths["test"] = None
    if cache_dir is None:
        return _prepare(data_cfg, paths)
    path = Path(cache_dir) / "splits" / f"{_prepared_key(data_cfg, paths)}.pkl"
    if path.is_file():
        try:
            splits, records = pickle.loads(path.read_bytes())
        except Exception as err:  # a corrupt entry is rebuilt, never fatal
            log.warning("ignoring unreadable prepared-data cache %s (%s)", path, err)
        else:
            for level, message in records:
                log.log(level, "%s", message)
            return splits
    with _recorded_logs() as records:
        splits = _prepare(data_cfg, paths)
    write_bytes(path, pickle.dumps((splits, records)))
    return splits


def _prepared_key(data_cfg: DictConfig, paths: dict[str, Path | None]) -> str:
    """Hash of the CSV bytes and every setting that changes the prepared frames."""
    digest = hashlib.sha256(PREPARED_VERSION.encode())
    for key in ("name", "normalization", "max_train_samples", "max_val_samples", "min_val_rows", "min_val_fraction"):
        digest.update(f"{key}={data_cfg.get(key)}\0".encode("utf-8"))
    for split in ("train", "val", "test"):
        file = paths[split]
        digest.update(file.read_bytes() if file is not None and file.is_file() else b"<none>")
        digest.update(b"\0")
    return digest.hexdigest()[:24]


@contextlib.contextmanager
def _recorded_logs() -> Iterator[list[tuple[int, str]]]:
    """Collect what data preparation logs (INFO and up), to replay it on a cache hit."""
    records: list[tuple[int, str]] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.levelno, record.getMessage()))

    handler = _Collect(level=logging.INFO)
    parent = logging.getLogger("dialsum.data")
    parent.addHandler(handler)
    try:
        yield records
    finally:
        parent.removeHandler(handler)


def _prepare(data_cfg: DictConfig, paths: dict[str, Path | None]) -> DataSplits:
    """Read, validate, normalise and cap the splits, logging everything dropped or suspicious."""
    train = read_dialogue_csv(paths["train"], require_summary=True)
    val = read_dialogue_csv(paths["val"], require_summary=True)
    test = read_dialogue_csv(paths["test"], require_summary=False) if paths["test"] else None
    for name, frame in (("train", train), ("val", val), ("test", test)):
        if frame is not None:
            report_duplicates(frame, name)
    report_leakage(train, val)
    train = _cap(train, data_cfg.get("max_train_samples"), "train")
    val = _cap(val, data_cfg.get("max_val_samples"), "val")
    warn_small_validation(len(train), len(val), int(data_cfg.min_val_rows), float(data_cfg.min_val_fraction))
    level = data_cfg.normalization
    splits = DataSplits(*(normalize_frame(f, level) if f is not None else None for f in (train, val, test)))
    log.info("data %s: %d train / %d val / %s test rows (normalization=%s)", data_cfg.name,
             len(splits.train), len(splits.val), len(test) if test is not None else "no", level)
    return splits


def _cap(frame: pd.DataFrame, limit: int | None, split: str) -> pd.DataFrame:
    """Keep the first N rows (deterministic), saying so."""
    if limit is None or limit >= len(frame):
        return frame
    log.info("%s: using the first %d of %d rows (max_%s_samples)", split, limit, len(frame), split)
    return frame.head(int(limit)).reset_index(drop=True)


def normalize_frame(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """Apply the configured normalisation to dialogue and summary columns."""
    out = frame.copy()
    for col in ("dialogue", "summary"):
        if col in out.columns:
            try:
                out[col] = [normalize_text(t, level) for t in out[col]]
            except ValueError as err:
                raise DialsumError(f"data.normalization: {err}") from None
    return out
