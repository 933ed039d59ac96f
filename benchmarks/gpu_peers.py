"""GPU speed against the peers (issue 10): training samples/s vs a bare HF Trainer, evaluation generation in
dialsum's length-sorted, growing batches vs naive unsorted batches, and 2 trials per GPU vs 1 in trials/hour.

Like gpu_check.py it needs no install (src/ on PYTHONPATH), runs dialsum as subprocesses, offline, and records
the card's name with every number; a failing part does not stop the others.
  speed       gpu_check's speed step (KoBART-base-sized BART, bf16, dialsum vs benchmarks/bare_seq2seq.py in
              ABBA order), target: median pair ratio >= 1.0
  speed_grouped       the same with dialsum's batches grouped by length (training.train_sampling_strategy=
              group_by_length; the bare script keeps the Trainer's default random batches)
  speed_grouped_real  speed_grouped trained on the --dialogues rows (real DialogSum-ko lengths)
  speed_compiled      the same with dialsum's model compiled (TrainingArguments torch_compile; compiling falls in
              the first 10 % of steps, which the samples/s leave out); the bare script stays eager
  speed_loader0       the same with dialsum's loader processes off (training.dataloader_num_workers=0, the bare
              Trainer's default; dialsum's is 2 on a GPU): what the loader processes give
  generation  a KoBART-base-sized BART trained briefly with train.py (bf16) on real DialogSum-ko dialogues so
              that it stops at </s> with lengths that follow the dialogue's, then, in one fresh process on the
              card, every dialogue of --dialogues summarised by dialsum.engine.generation.generate_summaries:
              naive = input-order chunks of generation.batch_size (what a plain loop or Trainer.predict does),
              sorted = grow_factor 1, dialsum = the shipped default (sorted, batches grow on a GPU), and
              sorted_4x_batch (informative: 4 x batch_size rows); greedy and 4 beams (--beams); rounds rotate the
              order; target (greedy): naive / dialsum wall >= 2.0
  sharing     the same 4-trial grid sweep (KoBART-base-sized, bf16) with n_jobs=1, trials_per_gpu=1 and with
              n_jobs=2, trials_per_gpu=2 on one GPU: trials/hour of each (no target; issue 12's feature measured)
--cpu-smoke runs every part with hardware=cpu and tiny sizes: a dry run of this script, not a measurement.

Usage: python benchmarks/gpu_peers.py [--only generation,sharing,speed,speed_grouped,...] [--dialogues dev.csv]
                                      [--gen-steps 900] [--rounds 3] [--beams 1,4] [--repeats 3] [--cpu-smoke]
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_check  # noqa: E402 - benchmarks/ is not a package
from gpu_check import COMMON, KOBART_BASE, ROOT, TINY, Check, read_json, run_step  # noqa: E402

GENERATION_TARGET = 2.0
SPEED_TARGET = 1.0
DEFAULT_DIALOGUES = Path(os.environ.get("DIALSUM_DIALOGSUM", ROOT.parent / "shared/data/dialogsum_ko")) / "dev.csv"


def model_size(c: Check) -> list[str]:
    """KoBART-base-sized on the card, tiny in the smoke run."""
    return TINY if c.smoke else KOBART_BASE


def precision(c: Check) -> list[str]:
    """bf16 on the card (what users train with), fp32 on the CPU."""
    return ["hardware=cpu"] if c.smoke else ["hardware=gpu", "hardware.precision=bf16"]


def dialogue_data(c: Check, dialogues: Path) -> list[str]:
    """Overrides training on the real dialogues: all but the last 64 rows train, those 64 validate."""
    import pandas as pd

    data = c.work / "data"
    if not data.exists():
        frame = pd.read_csv(dialogues)
        data.mkdir()
        frame.iloc[: len(frame) - 64].to_csv(data / "train.csv", index=False)
        frame.iloc[len(frame) - 64:].to_csv(data / "val.csv", index=False)
    return ["data=dialogsum_ko", f"data.train_path={data / 'train.csv'}", f"data.val_path={data / 'val.csv'}",
            "data.min_val_rows=0", "data.max_val_samples=16"]


def step_generation(c: Check, dialogues: Path, steps: int, rounds: int, beams: str) -> dict[str, Any]:
    """Train on the dialogues, then time the ways of generating for all of them in one process."""
    proc, seconds, metrics = c.train("gen_model", [
        *precision(c), *model_size(c), *dialogue_data(c, dialogues),
        f"training.max_steps={steps}", f"training.eval_steps={steps}", f"training.save_steps={steps}",
        "training.per_device_train_batch_size=32", "training.learning_rate=3e-4", "training.warmup_ratio=0.05",
        "generation.max_new_tokens=8"])
    out = c.work / "generation.json"
    worker, _ = c.run("gen_timing", [sys.executable, __file__, "--generation-worker", str(c.work / "gen_model"),
                                     str(dialogues), str(out), "--rounds", str(rounds), "--beams", beams,
                                     *(["--cpu"] if c.smoke else [])])
    timing = read_json(out)
    ratios = {}
    for beams, part in (timing.get("by_beams") or {}).items():
        walls = part["median_wall_s"] = {side: statistics.median(times) for side, times in part["wall_s"].items()}
        ratios[beams] = part["ratio_naive_over_dialsum"] = round(walls["naive"] / walls["dialsum"], 3)
        part["ratio_naive_over_sorted"] = round(walls["naive"] / walls["sorted"], 3)
    ratio = ratios.get("1")  # the shipped default: greedy
    checks = {"training exit 0": proc.returncode == 0, "timing exit 0": worker.returncode == 0,
              f"greedy: naive / dialsum >= {GENERATION_TARGET}": ratio is not None and (
                  ratio >= GENERATION_TARGET or c.smoke)}
    numbers = {"train_wall_s": seconds, "train_device": metrics.get("device"), "train_steps": steps,
               "train_loss": (metrics.get("train") or {}).get("train/loss"),
               "ratio_naive_over_dialsum": ratios, **timing}
    return {"checks": checks, "numbers": numbers, "proc": proc if proc.returncode else worker}


def generation_worker(run_dir: Path, dialogues: Path, out: Path, rounds: int, beams_list: str, cpu: bool) -> int:
    """In one process on the card: the run's model and every dialogue's prompt, then the ways timed for each
    beam count of --beams (1, greedy, is the shipped default)."""
    import torch
    from omegaconf import OmegaConf

    from dialsum.data.csv_io import read_dialogue_csv
    from dialsum.data.features import FeatureSpec, tokenize_frame
    from dialsum.data.splits import normalize_frame
    from dialsum.engine.predict import _load_model, _run_config
    from dialsum.models.registry import get_family

    run_cfg = _run_config(run_dir)
    family = get_family(run_cfg.model.family)
    tokenizer, model = _load_model(run_dir, family, run_cfg.model)
    device = torch.device("cpu" if cpu else "cuda")
    model = model.to(device)
    frame = normalize_frame(read_dialogue_csv(str(dialogues), require_summary=False), run_cfg.data.normalization)
    spec = FeatureSpec.from_model_config(run_cfg.model, family.decoder_only)
    prompts = [r["input_ids"] for r in tokenize_frame(frame, tokenizer, spec, with_labels=False)]
    shipped = OmegaConf.load(ROOT / "conf" / "generation" / "default.yaml")
    lengths = [len(p) for p in prompts]
    result = {"card": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "dialogues": len(prompts),
              "prompt_tokens": {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)},
              "rounds": rounds, "by_beams": {}}
    for beams in (int(b) for b in beams_list.split(",")):
        gen = OmegaConf.merge(shipped, {"num_beams": beams, **({"max_new_tokens": 24} if cpu else {})})
        result["by_beams"][str(beams)] = time_sides(model, tokenizer, prompts, gen, family.decoder_only, rounds)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, ensure_ascii=False))
    return 0


def time_sides(model: Any, tokenizer: Any, prompts: list[list[int]], gen: Any, decoder_only: bool,
               rounds: int) -> dict[str, Any]:
    """naive / sorted / dialsum generation of every prompt, `rounds` times each in rotating order."""
    import torch
    from omegaconf import OmegaConf

    from dialsum.engine.generation import generate_summaries

    device, size, one = model.device, int(gen.batch_size), OmegaConf.merge(gen, {"grow_factor": 1})
    if device.type == "cpu":  # the smoke run: grow as on a GPU, so the dry run takes every code path
        gen = OmegaConf.merge(gen, {"grow_factor": 4})

    def naive() -> tuple[list[str], list[int]]:
        """Input order, batch_size rows each: the loop a user writes (each chunk is one batch as it comes)."""
        chunks = [generate_summaries(model, tokenizer, prompts[i:i + size], one, decoder_only, device)
                  for i in range(0, len(prompts), size)]
        return [t for c in chunks for t in c[0]], [n for c in chunks for n in c[1]]

    big = OmegaConf.merge(one, {"batch_size": 4 * size})  # informative: what a 4x larger batch alone buys
    sides = {"naive": naive, "sorted": lambda: generate_summaries(model, tokenizer, prompts, one, decoder_only, device),
             "dialsum": lambda: generate_summaries(model, tokenizer, prompts, gen, decoder_only, device),
             "sorted_4x_batch": lambda: generate_summaries(model, tokenizer, prompts, big, decoder_only, device)}
    generate_summaries(model, tokenizer, prompts[:size], gen, decoder_only, device)  # warm-up
    walls: dict[str, list[float]] = {side: [] for side in sides}
    rows: dict[str, list[int]] = {}  # rows of each model.generate call: the plan each side really ran
    calls: list[int] = []
    plain = model.generate

    def counted(*args: Any, **kwargs: Any) -> Any:
        """model.generate, noting its batch's rows."""
        calls.append(int(kwargs["input_ids"].shape[0]))
        return plain(*args, **kwargs)

    model.generate = counted
    texts: dict[str, tuple[list[str], list[int]]] = {}
    for r in range(rounds):
        for side in list(sides)[r % len(sides):] + list(sides)[: r % len(sides)]:  # drift favours no side
            if device.type == "cuda":
                torch.cuda.synchronize()
            calls.clear()
            started = time.perf_counter()
            texts[side] = sides[side]()
            if device.type == "cuda":
                torch.cuda.synchronize()
            walls[side].append(round(time.perf_counter() - started, 3))
            rows[side] = list(calls)
    model.generate = plain
    return {"generation": OmegaConf.to_container(gen), "wall_s": walls, "rows_per_generate_call": rows,
            "batches": {side: len(r) for side, r in rows.items()},
            "generated_tokens": {s: {"mean": round(statistics.mean(v[1]), 1), "median": statistics.median(v[1]),
                                     "max": max(v[1])} for s, v in texts.items()},
            "same_text_as_naive": {s: round(sum(a == b for a, b in zip(v[0], texts["naive"][0])) / len(v[0]), 3)
                                   for s, v in texts.items()}, "example": texts["dialsum"][0][0][:200]}


def step_sharing(c: Check, trials: int, steps: int) -> dict[str, Any]:
    """The same grid sweep with 1 trial on the GPU at a time and with 2; trials/hour from each command's wall."""
    rates, procs, numbers = {}, [], {}
    lrs = ",".join(f"{1e-4 * (i + 1):g}" for i in range(trials))
    for per_gpu in (1, 2):
        sweep = c.work / f"share{per_gpu}"
        share = [] if c.smoke else [f"hardware.trials_per_gpu={per_gpu}", "hardware.devices=[0]"]
        proc, seconds = c.run(f"share{per_gpu}", [
            sys.executable, str(ROOT / "train.py"), "-m", "hydra/sweeper=optuna", "hydra/launcher=joblib",
            *precision(c), *model_size(c), *share, f"hydra.sweeper.n_jobs={per_gpu}", f"hydra.sweeper.n_trials={trials}",
            "hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none", f"training.learning_rate=choice({lrs})",
            f"training.max_steps={steps}", f"training.eval_steps={steps}", f"training.save_steps={steps}",
            "training.per_device_train_batch_size=16", "data.max_val_samples=16", "data.min_val_rows=0",
            "generation.max_new_tokens=16", "artifacts.save_model=false", f"hydra.sweeper.study_name=share{per_gpu}",
            f"hydra.sweep.dir={sweep}", *COMMON])
        runs = [read_json(p) for p in sweep.glob("*/metrics.json")]
        rates[per_gpu] = round(len(runs) / seconds * 3600, 1) if runs else None
        procs.append(proc)
        numbers[f"{per_gpu}_per_gpu"] = {"wall_s": seconds, "trials_finished": len(runs), "trials_per_hour": rates[per_gpu],
                                         "mean_train_samples_per_s": round(statistics.mean(
                                             r.get("train_samples_per_s") or 0 for r in runs), 1) if runs else None,
                                         "cards": sorted({(r.get("device") or {}).get("name", "?") for r in runs})}
    ratio = round(rates[2] / rates[1], 3) if rates.get(1) and rates.get(2) else None
    checks = {"both sweeps exit 0": all(p.returncode == 0 for p in procs),
              f"all {trials} trials finished twice": all(n["trials_finished"] == trials for n in numbers.values())}
    return {"checks": checks, "numbers": {**numbers, "ratio_2_over_1": ratio, "steps": steps},
            "proc": next((p for p in procs if p.returncode), None)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="generation,sharing,speed")
    parser.add_argument("--dialogues", type=Path, default=DEFAULT_DIALOGUES, help="CSV with fname, dialogue, summary")
    parser.add_argument("--steps", type=int, default=300, help="speed and generation-model training steps")
    parser.add_argument("--repeats", type=int, default=3, help="speed: runs per side (ABBA)")
    parser.add_argument("--rounds", type=int, default=3, help="generation: timed rounds of each side")
    parser.add_argument("--beams", default="1,4", help="generation: beam counts timed (1 = greedy, the target)")
    parser.add_argument("--gen-steps", type=int, default=900, help="generation: steps training the model (it must "
                                                                        "learn to stop at </s>)")
    parser.add_argument("--trials", type=int, default=4, help="sharing: grid trials per sweep")
    parser.add_argument("--share-steps", type=int, default=200, help="sharing: steps per trial")
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results/gpu_peers[.smoke].json")
    parser.add_argument("--cpu-smoke", action="store_true", help="every part on CPU, tiny sizes (a dry run)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--generation-worker", nargs=3, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generation_worker:
        return generation_worker(*args.generation_worker, args.rounds, args.beams, args.cpu)
    if not args.dialogues.is_file():
        print(f"gpu_peers: --dialogues {args.dialogues} does not exist; pass a DialogSum-ko CSV "
              "(fname, dialogue, summary), e.g. ../shared/data/dialogsum_ko/dev.csv", file=sys.stderr)
        return 2
    smoke = args.cpu_smoke
    out = args.out or ROOT / "benchmarks" / "results" / f"gpu_peers{'.smoke' if smoke else ''}.json"
    work = Path(tempfile.mkdtemp(prefix="dialsum_gpu_peers_"))
    c = Check(work, smoke, "bf16")
    steps = 6 if smoke else args.steps
    speed = functools.partial(gpu_check.step_speed, c, steps, 4 if smoke else 32, 1 if smoke else args.repeats,
                              SPEED_TARGET)
    grouped = ("training.train_sampling_strategy=group_by_length",)
    parts = {"speed": speed,
             "speed_grouped": lambda: speed(grouped),
             "speed_grouped_real": lambda: speed((*grouped, *dialogue_data(c, args.dialogues))),
             "speed_compiled": lambda: speed(("+training.torch_compile=true",)),
             "speed_loader0": lambda: speed(("training.dataloader_num_workers=0",)),  # dialsum without its loader
                                                                                       # processes (GPU default 2)
             "generation": lambda: step_generation(c, args.dialogues, 6 if smoke else args.gen_steps,
                                                   1 if smoke else args.rounds, args.beams),
             "sharing": lambda: step_sharing(c, 2 if smoke else args.trials, 4 if smoke else args.share_steps)}
    started, results, machine = time.time(), [], gpu_check.machine()
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):  # the file is rewritten after each part: a cut-off run keeps what it did
        results.append(run_step(name, parts[name]))
        payload = {"name": "gpu_peers", "smoke": smoke, "passed": all(r["passed"] for r in results),
                   "when": time.strftime("%Y-%m-%d %H:%M:%S"), "wall_s": round(time.time() - started, 1),
                   "machine": machine, "parts": results, "commands": c.commands,
                   "work_dir": str(work) if args.keep else None}
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"{'PASS' if payload['passed'] else 'FAIL'}: {sum(r['passed'] for r in results)}/{len(results)} parts; "
          f"{payload['wall_s']} s; result: {out}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
