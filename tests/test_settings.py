"""Settings that used to be silently ignored, and config/data checked before work starts (issue 8)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dialsum.engine.trainer import training_arguments


@pytest.mark.parametrize("overrides,expected", [
    ((), 0.05),                                                  # default: warmup_ratio
    (("training.warmup_steps=7",), 7),                           # steps given: used, ratio not
    (("training.warmup_steps=7", "training.warmup_ratio=0.2"), 7),
    (("training.warmup_ratio=0.2",), 0.2),
])
def test_warmup_steps_is_usable(make_cfg, tmp_path: Path, overrides, expected) -> None:
    args = training_arguments(make_cfg(*overrides), tmp_path, decoder_only=False)
    assert args.warmup_steps == expected


def test_environment_record_hides_url_passwords(monkeypatch) -> None:
    from dialsum.tracking.environment import snapshot

    monkeypatch.setattr("sys.argv", ["train.py", "-m", "hydra.sweeper.storage=postgresql://u:s3cr3t@h/db"])
    record = snapshot(seed=1)
    assert "s3cr3t" not in str(record) and "postgresql://u:***@h/db" in record["command"]
