"""One trial on several devices (torchrun, DDP): every rank trains, rank 0 alone writes the run folder."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_torchrun_two_ranks_write_one_run_folder(tmp_path: Path, cache_dir: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             str(ROOT / "train.py"), "debug=fast", "artifacts.save_model=true",
                             "metric.tokenizer=whitespace", f"hydra.run.dir={run_dir}"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout + result.stderr).count("run folder: ") == 1  # rank 0's closing line only
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["state"] == "completed" and (run_dir / "model" / "model.safetensors").is_file()
    with (run_dir / "metrics.csv").open(encoding="utf-8") as fh:
        rows = [tuple(r) for r in csv.reader(fh)]
    evals = [r for r in rows if r[1] == "eval/rouge1_f1"]
    assert len(evals) == metrics["n_evaluations"] == 2  # one writer: each evaluation once, not once per rank
