"""The run folder's result files: metrics.json, predictions.jsonl, model/, environment.json."""
from __future__ import annotations

import resource
import shutil
import sys
from pathlib import Path
from typing import Any

from dialsum.tracking import atomic
from dialsum.tracking.environment import snapshot

KB_PER_MB = 1024


def peak_memory_mb(accelerator: str) -> dict[str, float]:
    """Peak memory of this run: GPU allocator peak, and the process's peak RSS."""
    import torch

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss_kb / KB_PER_MB if sys.platform != "darwin" else rss_kb / KB_PER_MB / KB_PER_MB
    out = {"peak_rss_mb": round(rss_mb, 1)}
    if accelerator == "cuda" and torch.cuda.is_available():
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / KB_PER_MB / KB_PER_MB, 1)
    return out


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
