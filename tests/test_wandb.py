"""W&B logger (logger=wandb): offline runs read back from their .wandb files, secrets never written, CLI end to end."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from omegaconf import OmegaConf, open_dict
from transformers import TrainerControl, TrainerState

from conftest import CONF, ROOT
from dialsum.errors import DialsumError
from dialsum.tracking.wandb_logger import REDACTED, WandbLogger, default_run_name, scrub_secrets

FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"   # 40 hex chars, shaped like a real W&B key
FAKE_DB_PASSWORD = "s3cretDbPassw0rd"
# wandb's .wandb file is a LevelDB-style log: a 7-byte file header, then 32 KiB blocks of records, each with
# a 7-byte header (crc32, length, type). wandb 0.31 ships no Python reader for it, hence this small one.
WANDB_FILE_HEADER = 7
BLOCK_SIZE = 32 * 1024
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
FLUSH_TIMEOUT_S = 10
FLUSH_POLL_S = 0.05


def _chunks(path: Path) -> Iterator[bytes]:
    """Reassembled record payloads of a .wandb file."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"not a .wandb file: {path}"
    pos, pending = WANDB_FILE_HEADER, b""
    while pos + RECORD_HEADER <= len(data):
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < RECORD_HEADER:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + RECORD_HEADER])
        pos += RECORD_HEADER
        if pos + length > len(data):  # the writer is still appending this record
            return
        payload, pos = data[pos:pos + length], pos + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload
            pending = b""


def _items_to_dict(items) -> dict[str, Any]:
    """W&B summary/history/config items (key, or nested_key path, + value_json) as a (nested) dict."""
    out: dict[str, Any] = {}
    for item in items:
        path = [item.key] if item.key else list(item.nested_key)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = json.loads(item.value_json)
    return out


def read_offline_run(run_dir: Path) -> dict[str, Any]:
    """Run record, config, history rows, final summary and exit code of one offline-run-* folder."""
    from wandb.proto import wandb_internal_pb2 as pb

    (wandb_file,) = run_dir.glob("run-*.wandb")
    out: dict[str, Any] = {"config": {}, "history": [], "summary": {}, "exit_code": None, "run": None}
    for payload in _chunks(wandb_file):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["run"] = record.run
            out["config"].update(_items_to_dict(record.run.config.update))
        elif kind == "config":
            out["config"].update(_items_to_dict(record.config.update))
        elif kind == "history":
            out["history"].append(_items_to_dict(record.history.item))
        elif kind == "summary":
            out["summary"].update(_items_to_dict(record.summary.update))
        elif kind == "exit":
            out["exit_code"] = record.exit.exit_code
    return out


def read_finished_run(run_dir: Path) -> dict[str, Any]:
    """read_offline_run once the exit record is on disk: wandb-core writes the file shortly after finish() returns."""
    from google.protobuf.message import DecodeError

    deadline = time.monotonic() + FLUSH_TIMEOUT_S
    while True:
        try:  # a read racing wandb-core's writer can see a record half on disk (CI, stop 26)
            run = read_offline_run(run_dir)
            if run["exit_code"] is not None or time.monotonic() >= deadline:
                return run
        except DecodeError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(FLUSH_POLL_S)


def offline_runs(root: Path) -> list[Path]:
    """Every offline-run-* folder under root, oldest first."""
    return sorted(root.rglob("offline-run-*"))


class FakeGenerationEval(SimpleNamespace):
    """What WandbLogger reads from GenerationEval: last_rows and dialogues, aligned."""


def _fake_eval(n: int = 3) -> FakeGenerationEval:
    rows = [{"fname": f"val_{i}", "prediction": f"#Person1#은 예약합니다 {i}", "reference": f"#Person1#은 카페를 예약합니다 {i}",
             "rouge1_f1": 0.5 + i / 100, "rouge2_f1": 0.3, "rougeL_f1": 0.4, "rouge_combined_f1": 0.4 + i / 100}
            for i in range(n)]
    dialogues = [f"#Person1#: 안녕하세요, 예약하고 싶어요. {i} " + "가" * 400 for i in range(n)]
    return FakeGenerationEval(last_rows=rows, dialogues=dialogues)


def _metrics(state: str = "completed") -> dict[str, Any]:
    """metrics.json-shaped dict as run.py builds it."""
    best = {"eval/loss": 2.5, "eval/rouge1_f1": 0.52, "eval/rouge2_f1": 0.31, "eval/rougeL_f1": 0.44,
            "eval/rouge_combined_f1": 0.423}
    return {"model": "kobart", "objective": {"metric": "eval/rouge_combined_f1", "direction": "maximize",
                                             "value": 0.423},
            "best": best, "best_step": 4, "final": best, "train_time_s": 3.2, "step_time_s": 0.8,
            "peak_rss_mb": 512.0, "state": state}


def _drive(logger: WandbLogger, steps: int = 4) -> None:
    """What a 4-step Trainer run with evaluation at steps 2 and 4 sends to the callbacks."""
    state, control = TrainerState(), TrainerControl()
    for step in range(1, steps + 1):
        state.global_step = step
        logger.on_log(None, state, control, logs={"loss": 3.0 - step / 10, "learning_rate": 1e-3 / step,
                                                  "grad_norm": 1.5, "epoch": step / steps})
        if step % 2 == 0:
            logger.on_log(None, state, control, logs={"eval_loss": 2.5, "eval_rouge1_f1": 0.5,
                                                      "eval_rouge_combined_f1": 0.4 + step / 100})
            logger.on_evaluate(None, state, control, metrics={"eval_rouge_combined_f1": 0.4 + step / 100})


@pytest.fixture
def wandb_cfg(make_cfg, tmp_path):
    """logger=wandb in offline mode, W&B files under tmp_path."""

    def _make(*overrides: str):
        return make_cfg("logger=wandb", "logger.mode=offline", *overrides)

    return _make


def test_offline_run_has_curves_table_config_and_best_summary(wandb_cfg, tmp_path):
    cfg = wandb_cfg("logger.log_examples=2", "logger.tags=[baseline]")
    logger = WandbLogger.from_config(cfg, tmp_path / "run", _fake_eval())
    _drive(logger)
    logger.finish(_metrics(), "completed")

    (run_dir,) = offline_runs(tmp_path / "run" / "wandb")  # logger.dir=null -> inside the run folder
    run = read_finished_run(run_dir)
    assert run["exit_code"] == 0
    assert run["run"].project == "dialsum" and run["run"].job_type == "train"
    assert list(run["run"].tags) == ["baseline"]
    assert run["run"].display_name.startswith("kobart_lr0.001_bs16_")
    assert run["config"]["model"]["name"] == "kobart"
    assert run["config"]["training"]["learning_rate"] == pytest.approx(1e-3)
    assert run["config"]["logger"]["mode"] == "offline"

    steps = {row["_step"]: row for row in run["history"]}
    assert steps[1]["train/loss"] == pytest.approx(2.9)
    assert steps[1]["train/learning_rate"] == pytest.approx(1e-3)
    assert steps[4]["eval/rouge_combined_f1"] == pytest.approx(0.44)
    assert "perf/peak_rss_mb" in steps[1] and "perf/step_time_s" in steps[2]
    assert steps[4]["eval/examples"]["_type"] == "table-file"
    assert steps[4]["eval/examples"]["nrows"] == 2

    summary = run["summary"]
    assert summary["best/eval/rouge_combined_f1"] == pytest.approx(0.423)
    assert summary["best/eval/rouge1_f1"] == pytest.approx(0.52)
    assert summary["best/step"] == 4
    assert summary["state"] == "completed"
    assert summary["run/peak_rss_mb"] == pytest.approx(512.0)
    assert summary["run/step_time_s"] == pytest.approx(0.8)
    assert summary["eval/rouge_combined_f1"] == pytest.approx(0.44)  # last logged value
    assert summary["train/loss"] == pytest.approx(2.6)


def test_examples_table_keeps_korean_and_cuts_dialogues(wandb_cfg, tmp_path):
    cfg = wandb_cfg("logger.log_examples=3")
    logger = WandbLogger.from_config(cfg, tmp_path / "run", _fake_eval(5))
    _drive(logger, steps=2)
    logger.finish(_metrics(), "completed")
    (run_dir,) = offline_runs(tmp_path / "run")
    read_finished_run(run_dir)
    (table_file,) = (tmp_path / "run").rglob("examples_*.table.json")
    table = json.loads(table_file.read_text(encoding="utf-8"))
    assert table["columns"] == ["fname", "dialogue", "prediction", "reference",
                                "rouge1_f1", "rouge2_f1", "rougeL_f1", "rouge_combined_f1"]
    assert [r[0] for r in table["data"]] == ["val_0", "val_1", "val_2"]
    assert table["data"][0][1].startswith("#Person1#: 안녕하세요") and len(table["data"][0][1]) <= 301
    assert table["data"][1][2] == "#Person1#은 예약합니다 1"
    assert table["data"][2][7] == pytest.approx(0.42)


def test_sweep_trials_in_one_process_get_own_runs_grouped_by_study(wandb_cfg, tmp_path):
    """Sweeps reuse worker processes: every trial must still be a separate, correctly tagged run."""
    for number in (0, 1):
        cfg = wandb_cfg(f"trial.number={number}", "trial.study_name=lr_bs_grid")
        logger = WandbLogger.from_config(cfg, tmp_path / f"job{number}", _fake_eval())
        _drive(logger, steps=2)
        logger.finish(_metrics("pruned" if number else "completed"), "pruned" if number else "completed")
    for number in (0, 1):
        (run_dir,) = offline_runs(tmp_path / f"job{number}")
        run = read_finished_run(run_dir)
        assert run["run"].run_group == "lr_bs_grid"
        assert list(run["run"].tags) == [f"trial-{number}"]
        assert run["config"]["trial_number"] == number
        assert run["config"]["trial"]["number"] == number
        assert run["run"].display_name.startswith("lr_bs_grid_kobart_")
        assert run["exit_code"] == 0  # pruned is a normal outcome, not a crash


def test_failed_run_exits_nonzero_and_finish_is_idempotent(wandb_cfg, tmp_path):
    cfg = wandb_cfg("logger.group=mygroup", "logger.run_name=my_run", "logger.log_examples=0")
    logger = WandbLogger.from_config(cfg, tmp_path / "run", _fake_eval())
    _drive(logger, steps=2)
    logger.finish({}, "failed")  # failure path: metrics may be empty
    logger.finish(_metrics(), "completed")  # no effect: the run is closed
    (run_dir,) = offline_runs(tmp_path / "run")
    run = read_finished_run(run_dir)
    assert run["exit_code"] == 1
    assert run["summary"]["state"] == "failed"
    assert run["run"].run_group == "mygroup" and run["run"].display_name == "my_run"
    assert not list(run_dir.rglob("*.table.json"))  # log_examples=0: no table


def test_api_key_and_passwords_never_written(wandb_cfg, tmp_path, monkeypatch):
    """Even a config that interpolates the key from the environment must not carry it into any file."""
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    cfg = wandb_cfg(f"trial.storage=postgresql://optuna:{FAKE_DB_PASSWORD}@db.example/optuna")
    with open_dict(cfg):
        cfg.logger.api_key = "${oc.env:WANDB_API_KEY}"
        cfg.model.note = "${oc.env:WANDB_API_KEY}"
    logger = WandbLogger.from_config(cfg, tmp_path / "run", _fake_eval())
    _drive(logger, steps=2)
    logger.finish(_metrics(), "completed")
    (run_dir,) = offline_runs(tmp_path / "run")
    config = read_finished_run(run_dir)["config"]
    _assert_absent(tmp_path, [FAKE_KEY, FAKE_DB_PASSWORD])
    assert config["logger"]["api_key"] == REDACTED and config["model"]["note"] == REDACTED
    assert config["trial"]["storage"] == f"postgresql://optuna:{REDACTED}@db.example/optuna"


def _assert_absent(root: Path, needles: list[str]) -> None:
    """No file under root contains any needle (binary .wandb files included)."""
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing written under {root}"
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, f"secret found in {path}"


def test_scrub_secrets_keeps_ordinary_keys():
    data = {"tokenizer": "bpe", "max_new_tokens": 8, "hf_token": "hf_abc", "nested": [{"password": "x"}],
            "storage": "sqlite:///a.db", "nullable": {"api_key": None}}
    assert scrub_secrets(data) == {"tokenizer": "bpe", "max_new_tokens": 8, "hf_token": REDACTED,
                                   "nested": [{"password": REDACTED}], "storage": "sqlite:///a.db",
                                   "nullable": {"api_key": None}}


def test_bad_mode_is_a_user_error(wandb_cfg, tmp_path):
    with pytest.raises(DialsumError, match="logger.mode"):
        WandbLogger.from_config(wandb_cfg("logger.mode=cloud"), tmp_path, _fake_eval())


def test_wandb_environment_variables_are_honoured(make_cfg, monkeypatch):
    """A W&B user's WANDB_PROJECT / WANDB_ENTITY / WANDB_JOB_TYPE / WANDB_DIR, as wandb.init would read them."""
    for name, value in (("WANDB_PROJECT", "myproj"), ("WANDB_ENTITY", "team"), ("WANDB_JOB_TYPE", "tune"),
                        ("WANDB_DIR", "/tmp/wb")):
        monkeypatch.setenv(name, value)
    lc = make_cfg("logger=wandb").logger
    assert (lc.project, lc.entity, lc.job_type, lc.dir) == ("myproj", "team", "tune", "/tmp/wb")
    monkeypatch.delenv("WANDB_PROJECT")
    monkeypatch.delenv("WANDB_ENTITY")
    assert make_cfg("logger=wandb").logger.project == "dialsum" and make_cfg("logger=wandb").logger.entity is None


def test_a_broken_wandb_install_is_one_clear_error(wandb_cfg, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` now raises ImportError
    with pytest.raises(DialsumError, match="wandb cannot be imported.*logger=csv"):
        WandbLogger.from_config(wandb_cfg(), tmp_path, _fake_eval())


def test_default_run_name(wandb_cfg):
    cfg = wandb_cfg("model=t5", "training.learning_rate=3e-5", "training.per_device_train_batch_size=12")
    assert default_run_name(cfg, datetime(2026, 11, 25, 9, 5)) == "t5_lr3e-05_bs12_1125_0905"


def test_every_config_key_is_read():
    """A key in conf/logger/wandb.yaml that nothing reads would mislead users."""
    keys = OmegaConf.load(CONF / "logger" / "wandb.yaml").keys()
    source = (ROOT / "src" / "dialsum" / "tracking" / "wandb_logger.py").read_text(encoding="utf-8")
    unread = [k for k in keys if k != "name" and f"lc.{k}" not in source]
    assert not unread, f"unread logger keys: {unread}"


@pytest.mark.slow  # moved from the fast run (it measured 10 min 29 s with the venv install): 11 s; the W&B units stay
def test_cli_train_with_wandb_offline(tmp_path, cache_dir):
    """`python train.py debug=fast logger=wandb`: one offline W&B run in the run folder, key nowhere on disk."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}  # the config's mode=offline decides
    env.update({"WANDB_API_KEY": FAKE_KEY, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"})

    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "debug=fast", "logger=wandb"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (metrics_file,) = (tmp_path / "outputs").rglob("metrics.json")
    run_folder = metrics_file.parent
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    (run_dir,) = offline_runs(run_folder / "wandb")
    run = read_finished_run(run_dir)
    assert run["exit_code"] == 0
    assert run["summary"]["state"] == "completed"
    assert run["summary"]["best/eval/rouge_combined_f1"] == pytest.approx(metrics["best"]["eval/rouge_combined_f1"])
    assert any("train/loss" in row for row in run["history"])
    assert any("eval/rouge_combined_f1" in row for row in run["history"])
    assert run["config"]["logger"]["name"] == "wandb"
    _assert_absent(tmp_path, [FAKE_KEY])
    assert FAKE_KEY not in proc.stdout + proc.stderr
