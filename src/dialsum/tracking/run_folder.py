"""The run folder's result files: metrics.json, predictions.jsonl, model/, environment.json."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dialsum.tracking import atomic
from dialsum.tracking.environment import snapshot


def write_results(out_dir: Path, metrics: dict[str, Any], predictions: list[dict[str, Any]], seed: int) -> None:
    """metrics.json last: its presence marks a finished run folder."""
    atomic.write_jsonl(out_dir / "predictions.jsonl", predictions)
    atomic.write_json(out_dir / "environment.json", snapshot(seed))
    atomic.write_json(out_dir / "metrics.json", metrics)


def save_model(out_dir: Path, model: Any, tokenizer: Any) -> Path:
    """Best model + tokenizer as safetensors, moved into place only when complete."""
    final = out_dir / "model"
    tmp = out_dir / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    atomic.replace_dir(tmp, final)
    return final
