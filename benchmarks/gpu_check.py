"""End-to-end GPU check (issue 12): each run on the GPU it claims, K trials per GPU, predict on the GPU, and
dialsum's training speed against a bare HF Seq2SeqTrainer on a KoBART-base-sized BART.

dialsum runs as `sys.executable train.py|predict.py ...` subprocesses with this process's environment plus
PYTHONPATH=src (no install needed), offline, on the built-in synthetic data, metric.tokenizer=whitespace,
logger=csv. Each step records PASS/FAIL with its numbers and the card's name; a failing step does not stop
the others.
  1 gpu_run    hardware=gpu, tiny KoBART from scratch: metrics.json device is CUDA, batch not multiplied
  2 precision  hardware=fp16_ckpt and hardware=bf16: finite loss; peak GPU memory and speed of each
  3 sharing    2-trial sweep, hardware.trials_per_gpu=2, n_jobs=2, hardware.devices=[0]: both trials on
               the same GPU (UUID), in slots 1/2 and 2/2, with overlapping [started_at, finished_at]
  4 predict    predict.py hardware=gpu on run 1's folder: the log says cuda, submission written
  5 speed      BART d_model 768, 6+6 layers, 16 heads, ffn 3072, vocab 30000, random init, N steps: dialsum
               vs benchmarks/bare_seq2seq.py (same token ids and initial weights, batch, lengths, precision,
               same GPU), --repeats runs per side in ABBA order; samples/s over optimizer steps (StepTimer);
               verdict on the median ratio dialsum / bare of adjacent runs (target >= 0.95)
--cpu-smoke runs the same steps with hardware=cpu and tiny sizes: a dry run of this script, not a measurement.

Usage: python benchmarks/gpu_check.py [--out benchmarks/results/gpu_check.json] [--steps 300] [--batch 32]
                                      [--precision bf16|fp16] [--repeats 3] [--only 1,2,3,4,5] [--cpu-smoke] [--keep]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEED_TARGET = 0.95
TAIL = 2500  # characters of a failed command's output kept in the JSON
COMMON = ["metric.tokenizer=whitespace", "logger=csv"]
KOBART_BASE = ["model.scratch.d_model=768", "model.scratch.layers=6", "model.scratch.heads=16",
               "model.scratch.ffn_dim=3072", "+model.scratch.config_overrides.vocab_size=30000"]
TINY = ["model.scratch.d_model=64", "model.scratch.layers=1", "model.scratch.heads=2", "model.scratch.ffn_dim=128",
        "+model.scratch.config_overrides.vocab_size=30000"]
SMOKE_STEPS = ["training.max_steps=4", "training.eval_steps=2", "training.save_steps=2", "generation.max_new_tokens=8",
               "data.max_train_samples=32", "data.max_val_samples=8"]


class Check:
    """Runs dialsum in subprocesses inside a work folder and keeps every command line."""

    def __init__(self, work: Path, smoke: bool, precision: str) -> None:
        self.work, self.smoke, self.precision = work, smoke, precision
        self.kind = "cpu" if smoke else "cuda"
        self.quick = ["experiment=quick_test", *(SMOKE_STEPS if smoke else [])]
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "WANDB_MODE": "disabled", "HYDRA_FULL_ERROR": "1", "DIALSUM_CACHE": str(work / "cache"),
                    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.commands: list[str] = []

    def hardware(self, preset: str) -> list[str]:
        """hardware=<preset> on a GPU; its CPU stand-in for the smoke run."""
        if not self.smoke:
            return [f"hardware={preset}"]
        return ["hardware=cpu", *(["hardware.gradient_checkpointing=true"] if preset == "fp16_ckpt" else [])]

    def run(self, name: str, args: list[str], env: dict[str, str] | None = None) -> tuple[Any, float]:
        """One command from the project root; its output goes to <work>/<name>.log."""
        self.commands.append(" ".join(args))
        print(f"$ {' '.join(args)}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(args, cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=900 if self.smoke else 600)
        seconds = round(time.perf_counter() - started, 1)
        (self.work / f"{name}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        print(f"  -> exit {proc.returncode} in {seconds} s", flush=True)
        return proc, seconds

    def train(self, name: str, overrides: list[str]) -> tuple[subprocess.CompletedProcess, float, dict[str, Any]]:
        """train.py into <work>/<name>; returns the process, wall seconds and metrics.json ({} if absent)."""
        proc, seconds = self.run(name, [sys.executable, str(ROOT / "train.py"), *overrides, *COMMON,
                                        f"hydra.run.dir={self.work / name}"])
        return proc, seconds, read_json(self.work / name / "metrics.json")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file, {} when missing."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def output(proc: subprocess.CompletedProcess) -> str:
    """stdout + stderr of a command."""
    return proc.stdout + proc.stderr


def run_numbers(metrics: dict[str, Any], seconds: float) -> dict[str, Any]:
    """What every run reports: device (with the card's name), peaks, speed, loss, wall time."""
    return {"device": metrics.get("device"), "peak_gpu_mb": metrics.get("peak_gpu_mb"),
            "peak_rss_mb": metrics.get("peak_rss_mb"), "train_samples_per_s": metrics.get("train_samples_per_s"),
            "train_batch_size": metrics.get("train_batch_size"),
            "train_loss": (metrics.get("train") or {}).get("train/loss"), "wall_s": seconds}


def run_checks(c: Check, proc: subprocess.CompletedProcess, metrics: dict[str, Any], batch: int) -> dict[str, bool]:
    """A run finished on the device it should, with a finite loss and the batch as configured."""
    loss = (metrics.get("train") or {}).get("train/loss")
    device = metrics.get("device") or {}
    checks = {"exit 0": proc.returncode == 0, f"device is {c.kind}": device.get("type") == c.kind,
              "finite training loss": isinstance(loss, (int, float)) and math.isfinite(loss),
              f"batch {batch} not multiplied (n_gpu 1)": metrics.get("train_batch_size") == batch}
    if not c.smoke:
        checks["peak_gpu_mb > 0"] = (metrics.get("peak_gpu_mb") or 0) > 0
        checks["log: cuda:0 = host GPU"] = "device: cuda:0 = host GPU" in output(proc)
    return checks


def step_gpu_run(c: Check) -> dict[str, Any]:
    """1: one hardware=gpu run of a tiny scratch KoBART (its folder feeds step 4)."""
    proc, seconds, metrics = c.train("gpu_run", [*c.hardware("gpu"), *c.quick])
    return {"checks": run_checks(c, proc, metrics, 16), "numbers": run_numbers(metrics, seconds), "proc": proc}


def step_precision(c: Check) -> dict[str, Any]:
    """2: fp16 + gradient checkpointing, and bf16."""
    checks, numbers, last = {}, {}, None
    for preset in ("fp16_ckpt", "bf16"):
        last, seconds, metrics = c.train(preset, [*c.hardware(preset), *c.quick])
        checks.update({f"{preset}: {k}": v for k, v in run_checks(c, last, metrics, 16).items()})
        numbers[preset] = run_numbers(metrics, seconds)
    return {"checks": checks, "numbers": numbers, "proc": last}


def step_sharing(c: Check) -> dict[str, Any]:
    """3: two trials at once on one GPU (trials_per_gpu=2): same GPU, both slots, overlapping times."""
    share = [] if c.smoke else ["hardware.trials_per_gpu=2", "hardware.devices=[0]"]
    sweep = c.work / "sweep"
    proc, seconds = c.run("sharing", [
        sys.executable, str(ROOT / "train.py"), "-m", "hydra/sweeper=optuna", "hydra/launcher=joblib",
        *c.hardware("gpu"), *share, "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
        "training.learning_rate=choice(0.001,0.003)",
        "training.per_device_train_batch_size=choice(16)", "hydra.sweeper.study_name=gpu_check_share",
        f"hydra.sweep.dir={sweep}", *c.quick, "artifacts.save_model=false", *COMMON])
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    runs = [read_json(j / "metrics.json") for j in jobs]
    devices = [r.get("device") or {} for r in runs]
    spans = [(r.get("started_at") or 0, r.get("finished_at") or 0) for r in runs]
    overlap = (min(e for _, e in spans) - max(s for s, _ in spans)) if len(spans) == 2 else None
    checks = {"exit 0": proc.returncode == 0, "2 trials finished": len(runs) == 2,
              f"both on {c.kind}": len(runs) == 2 and all(d.get("type") == c.kind for d in devices),
              "same device (uuid)": len(runs) == 2 and devices[0].get("uuid") == devices[1].get("uuid"),
              "overlapping [started_at, finished_at]": overlap is not None and overlap > 0}
    if not c.smoke:
        logs = " ".join((j / "train.log").read_text() if (j / "train.log").is_file() else "" for j in jobs)
        checks["slots 1/2 and 2/2 claimed"] = "slot 1/2" in logs and "slot 2/2" in logs
    numbers = {"overlap_s": round(overlap, 2) if overlap is not None else None, "sweep_wall_s": seconds,
               "trials": [{"job": j.name, **run_numbers(r, 0.0), "started_at": r.get("started_at"),
                           "finished_at": r.get("finished_at")} for j, r in zip(jobs, runs)]}
    return {"checks": checks, "numbers": numbers, "proc": proc}


def step_predict(c: Check) -> dict[str, Any]:
    """4: predict.py on run 1's folder, on the GPU."""
    submission = c.work / "submission.csv"
    proc, seconds = c.run("predict", [sys.executable, str(ROOT / "predict.py"), f"run_dir={c.work / 'gpu_run'}",
                                      *c.hardware("gpu"), "metric.tokenizer=whitespace",
                                      f"hydra.run.dir={c.work / 'predict'}", f"output_path={submission}"])
    line = next((ln for ln in output(proc).splitlines() if "device: " in ln), "")
    rows = max(0, len(submission.read_text(encoding="utf-8").splitlines()) - 1) if submission.is_file() else 0
    checks = {"exit 0": proc.returncode == 0, f"log says device: {c.kind}": f"device: {c.kind}" in line,
              "submission written": rows > 0}
    return {"checks": checks, "numbers": {"device_line": line.split("device: ")[-1], "rows": rows, "wall_s": seconds},
            "proc": proc}


def step_speed(c: Check, steps: int, batch: int, repeats: int, target: float = SPEED_TARGET,
               extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """5: samples/s of dialsum vs a bare Seq2SeqTrainer, same model, data, batch, precision and GPU; runs in
    ABBA order (dialsum, bare, bare, dialsum, ...) so a drift of the card's speed favours neither side.
    `extra` overrides go to both sides (the bare side reads the model and data from them, not the sampler)."""
    precision = [] if c.smoke else ["hardware=gpu", f"hardware.precision={c.precision}"]
    overrides = [*(c.hardware("gpu") if c.smoke else precision), *(TINY if c.smoke else KOBART_BASE),
                 f"training.max_steps={steps}", f"training.eval_steps={steps}", f"training.save_steps={steps}",
                 f"training.logging_steps={max(1, steps // 4)}", f"training.per_device_train_batch_size={batch}",
                 "training.learning_rate=1e-4", "data.max_val_samples=16", "data.min_val_rows=0",
                 "generation.max_new_tokens=8", "artifacts.save_model=false", *extra]
    order = [side for i in range(repeats) for side in (("dialsum", "bare") if i % 2 == 0 else ("bare", "dialsum"))]
    runs: dict[str, list[dict[str, Any]]] = {"dialsum": [], "bare": []}
    uuid, failed = None, None
    for side in order:
        name = f"speed_{side}{len(runs[side]) + 1}"
        if side == "dialsum":
            proc, seconds, metrics = c.train(name, overrides)  # + COMMON
            uuid = uuid or (metrics.get("device") or {}).get("uuid")
            card = (metrics.get("device") or {}).get("name", "cpu")
            runs[side].append({**run_numbers(metrics, seconds), "card": card})
        else:
            out = c.work / f"{name}.json"
            proc, seconds = c.run(name, [sys.executable, str(ROOT / "benchmarks" / "bare_seq2seq.py"), "--out",
                                         str(out), "--", *overrides, *COMMON],
                                  env={"CUDA_VISIBLE_DEVICES": uuid} if uuid else None)  # the GPU dialsum used
            bare = read_json(out)
            runs[side].append({**bare, "wall_s": seconds, "card": bare.get("device_name")})
        failed = failed or (proc if proc.returncode != 0 else None)
        print(f"  {name}: {runs[side][-1].get('train_samples_per_s')} samples/s", flush=True)  # kept if cut off
    ours, theirs = (_mean([r.get("train_samples_per_s") for r in runs[side]]) for side in ("dialsum", "bare"))
    speeds = [[r.get("train_samples_per_s") for r in runs[side]] for side in ("dialsum", "bare")]
    pairs = [round(d / b, 3) for d, b in zip(*speeds) if d and b]
    ratio = statistics.median(pairs) if len(pairs) == repeats else None  # adjacent runs: drift cancels
    cards = {r.get("card") for side in runs.values() for r in side}
    batches = {r.get("train_batch_size") for side in runs.values() for r in side}
    checks = {"every run exit 0": failed is None, "same card": len(cards) == 1 or c.smoke,
              "same batch": batches == {batch},
              f"median pair ratio >= {target}": ratio is not None and (ratio >= target or c.smoke)}
    numbers = {"card": next(iter(cards)) if len(cards) == 1 else sorted(map(str, cards)),
               "precision": "fp32" if c.smoke else c.precision, "steps": steps, "batch": batch, "order": order,
               "extra_overrides": list(extra),
               "dialsum_samples_per_s": ours, "bare_samples_per_s": theirs, "pair_ratios": pairs,
               "ratio_dialsum_over_bare": ratio,
               "dialsum": runs["dialsum"], "bare": runs["bare"]}
    return {"checks": checks, "numbers": numbers, "proc": failed}


def _mean(values: list[Any]) -> float | None:
    """Mean of numbers; None when any is missing."""
    if not values or any(not isinstance(v, (int, float)) for v in values):
        return None
    return round(sum(values) / len(values), 2)


def machine() -> dict[str, Any]:
    """Versions and, where nvidia-smi exists, the GPUs (queried without initialising CUDA here)."""
    info = {"python": platform.python_version(), "host": platform.node(), "cpu_count": os.cpu_count()}
    for name in ("torch", "transformers", "accelerate", "tokenizers", "optuna", "hydra-core"):
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=index,name,uuid,memory.total,driver_version", "--format=csv,noheader"]
        info["gpus"] = subprocess.run(query, capture_output=True, text=True).stdout.strip().splitlines()
    return info


def run_step(name: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One step, never raising: PASS when every check holds; the output tail when it failed."""
    started = time.perf_counter()
    try:
        result = func()
    except Exception as err:  # noqa: BLE001 - a broken step is recorded, the next one still runs
        result = {"checks": {"ran": False}, "numbers": {}, "error": f"{type(err).__name__}: {err}"}
    proc = result.pop("proc", None)
    result["passed"] = bool(result["checks"]) and all(result["checks"].values())
    if not result["passed"] and proc is not None:
        result["output_tail"] = output(proc)[-TAIL:]
    result["step_s"] = round(time.perf_counter() - started, 1)
    print(f"[{'PASS' if result['passed'] else 'FAIL'}] {name} ({result['step_s']} s)")
    for check, ok in result["checks"].items():
        print(f"    {'ok ' if ok else 'NO '} {check}")
    print("    " + json.dumps(result["numbers"], ensure_ascii=False, default=str)[:1500], flush=True)
    return {"step": name, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results/gpu_check[.smoke].json")
    parser.add_argument("--steps", type=int, default=300, help="speed step: optimizer steps per side")
    parser.add_argument("--batch", type=int, default=32, help="speed step: per-device batch")
    parser.add_argument("--precision", choices=("bf16", "fp16"), default="bf16", help="speed step, both sides")
    parser.add_argument("--repeats", type=int, default=3, help="speed step: runs per side (ABBA order)")
    parser.add_argument("--only", default="1,2,3,4,5", help="comma-separated step numbers to run")
    parser.add_argument("--cpu-smoke", action="store_true", help="same steps on CPU, tiny sizes (a dry run)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, run folders)")
    args = parser.parse_args(argv)
    out = args.out or RESULTS / f"gpu_check{'.smoke' if args.cpu_smoke else ''}.json"
    work = Path(tempfile.mkdtemp(prefix="dialsum_gpu_check_"))
    c = Check(work, args.cpu_smoke, args.precision)
    steps, batch = (6, 4) if args.cpu_smoke else (args.steps, args.batch)
    started = time.time()
    print(f"== gpu_check{' (CPU SMOKE: hardware=cpu, tiny sizes; not a measurement)' if c.smoke else ''}; work {work}")
    all_steps = {"1": ("1 gpu_run", lambda: step_gpu_run(c)), "2": ("2 precision", lambda: step_precision(c)),
                 "3": ("3 sharing", lambda: step_sharing(c)), "4": ("4 predict", lambda: step_predict(c)),
                 "5": ("5 speed", lambda: step_speed(c, steps, batch, 1 if c.smoke else args.repeats))}
    results = [run_step(*all_steps[k]) for k in args.only.split(",")]  # 4 needs 1's run folder
    passed = all(r["passed"] for r in results)
    payload = {"name": "gpu_check", "smoke": c.smoke, "passed": passed, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
               "wall_s": round(time.time() - started, 1), "machine": machine(), "steps": results,
               "commands": c.commands, "work_dir": str(work) if args.keep else None}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    speed = next((r["numbers"] for r in results if r["step"] == "5 speed"), {})
    print(f"speed on {speed.get('card')}: dialsum {speed.get('dialsum_samples_per_s')} vs bare "
          f"{speed.get('bare_samples_per_s')} samples/s, ratio {speed.get('ratio_dialsum_over_bare')}")
    print(f"{'PASS' if passed else 'FAIL'}: {sum(r['passed'] for r in results)}/{len(results)} steps; "
          f"{payload['wall_s']} s; result: {out}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
