"""Helpers shared by the benchmarks: run a command with env and timing, read results, report.

Every benchmark prints the machine it ran on, the exact commands, both numbers, their ratio and
PASS/FAIL against its target, then writes benchmarks/results/<name>.json (<name>.smoke.json with
--smoke, so a smoke check is never mistaken for a measurement). Exit status is 0 even on FAIL.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "train.py")
PY = sys.executable
RESULTS = ROOT / "benchmarks" / "results"
SHARED_CACHE = Path(tempfile.gettempdir()) / "dialsum_bench_cache"  # warm data/tokenizer/features cache
LOG_TAIL_CHARS = 3000

DEFAULT_PRUNER = str(yaml.safe_load((ROOT / "conf/hydra/sweeper/optuna.yaml").read_text())["pruner"]["name"])

# Offline, quiet subprocesses; DIALSUM_CACHE is added per call.
BASE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1"}


def repeats_parser(doc: str, smoke_help: str = "1 repeat") -> argparse.ArgumentParser:
    """The command line of the benchmarks that alternate their sides N times: --repeats, --smoke, --keep."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    return parser


class Bench:
    """Collects commands and numbers for one benchmark; prints and saves the verdict."""

    def __init__(self, name: str, target: str, smoke: bool, keep: bool = False) -> None:
        self.name, self.target, self.smoke, self.keep = name, target, smoke, keep
        self.commands: list[str] = []
        self.work = Path(tempfile.mkdtemp(prefix=f"dialsum_{name}_"))
        self.started = time.time()
        print(f"== {name}{' (SMOKE: tiny sizes, not a measurement)' if smoke else ''}")
        print(f"target: {target}")
        self.machine = machine_info()
        print("machine: " + ", ".join(f"{k}={v}" for k, v in self.machine.items()))
        print(f"work dir: {self.work}")

    def run(self, args: list[str], cache: Path | None = None, log_name: str | None = None,
            env: dict[str, str] | None = None, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
        """Run a command from the project root; returns (wall seconds, completed process)."""
        full_env = {**BASE_ENV, **({"DIALSUM_CACHE": str(cache)} if cache else {}), **(env or {})}
        line = " ".join(f"{k}={shlex.quote(v)}" for k, v in full_env.items()) + " " + shlex.join(args)
        self.commands.append(line)
        print(f"$ {line}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=ROOT, env={**os.environ, **full_env}, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if log_name:
            (self.work / f"{log_name}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        print(f"  -> {seconds:.2f} s, exit {proc.returncode}", flush=True)
        if check and proc.returncode != 0:
            print((proc.stdout + proc.stderr)[-LOG_TAIL_CHARS:], file=sys.stderr)
            raise SystemExit(f"{self.name}: command failed (exit {proc.returncode}): {line}")
        return seconds, proc

    def train(self, overrides: list[str], cache: Path | None, log_name: str | None = None,
              multirun: bool = False) -> tuple[float, subprocess.CompletedProcess]:
        """`python train.py [-m] overrides...`."""
        return self.run([PY, TRAIN, *(["-m"] if multirun else []), *overrides], cache, log_name)

    def warm_cache(self, cache: Path, data_overrides: list[str]) -> None:
        """One minimal run so synthetic data, tokenizer and features are cached before timing."""
        if self.smoke:
            print("smoke: data cache warm-up skipped")
            return
        print("warming the data cache (not timed):")
        self.train([*data_overrides, "training.max_steps=1", "training.eval_steps=1", "training.save_steps=1",
                    "generation.max_new_tokens=1", "artifacts.save_model=false",
                    f"hydra.run.dir={self.work / 'warmup'}"], cache, "warmup")

    def finish(self, rows: list[tuple[str, Any]], passed: bool, results: dict[str, Any]) -> int:
        """Print the result table and verdict, write the JSON, clean up; always returns 0."""
        width = max(len(k) for k, _ in rows)
        print(f"-- {self.name} results")
        for key, value in rows:
            print(f"  {key:<{width}}  {fmt(value)}")
        verdict = "PASS" if passed else "FAIL"
        print(f"{verdict}: {self.target}{'  [smoke run: sizes too small to judge]' if self.smoke else ''}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"{self.name}{'.smoke' if self.smoke else ''}.json"
        payload = {"name": self.name, "smoke": self.smoke, "target": self.target, "verdict": verdict,
                   "machine": self.machine, "commands": self.commands, "results": results,
                   "when": time.strftime("%Y-%m-%d %H:%M:%S"), "bench_wall_s": round(time.time() - self.started, 1)}
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"result: {out}")
        if self.keep:
            print(f"kept work dir: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        return 0


def machine_info() -> dict[str, Any]:
    """CPU count, torch threads, versions and load (other work on the machine skews timings)."""
    import torch

    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {"cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "loadavg_1m": round(os.getloadavg()[0], 2),
            **{name: ver(name) for name in ("dialsum", "transformers", "optuna", "hydra-core", "kiwipiepy")}}


def fmt(value: Any) -> str:
    """Numbers to 4 significant digits, the rest as is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def read_json(path: Path | str) -> dict[str, Any]:
    """A JSON file as a dict."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """A JSON-lines file as a list of dicts."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def median(values: list[float]) -> float:
    """statistics.median, kept here so every bench reports the same statistic."""
    return float(statistics.median(values))


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, None when undefined."""
    return a / b if a is not None and b else None


def sweep_overrides(sweep_dir: Path, study: str, n_jobs: int, n_trials: int, sampler: str,
                    pruner: str = "none", seed: int | None = 0) -> list[str]:
    """dialsum's Optuna sweeper with the joblib launcher, into a fresh sweep folder."""
    return ["hydra/sweeper=optuna", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}",
            f"hydra.sweeper.n_jobs={n_jobs}", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweeper.sampler.name={sampler}", f"hydra.sweeper.sampler.seed={'null' if seed is None else seed}",
            f"hydra.sweeper.pruner.name={pruner}", f"hydra.sweeper.study_name={study}", f"hydra.sweep.dir={sweep_dir}"]


def sweep_trials(sweep_dir: Path) -> list[dict[str, Any]]:
    """all_results.jsonl rows, each with its job's metrics.json under 'metrics' ({} if missing)."""
    rows = read_jsonl(sweep_dir / "all_results.jsonl")
    for row in rows:
        path = Path(row["job_dir"]) / "metrics.json" if row.get("job_dir") else None
        row["metrics"] = read_json(path) if path and path.is_file() else {}
    return rows


def job_span(job_dir: Path | str) -> tuple[float, float]:
    """(start, end) of a job from file times: .hydra/config.yaml (written when the job starts) and
    metrics.json (written last, when the job ends)."""
    job = Path(job_dir)
    return (job / ".hydra" / "config.yaml").stat().st_mtime, (job / "metrics.json").stat().st_mtime
