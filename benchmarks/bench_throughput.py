"""Training throughput: dialsum's Trainer within 5% of a bare HF Seq2SeqTrainer (same model/data/batch).

Both sides get identical inputs, built in this process with dialsum's own pieces
(dialsum.data.splits.load_splits, dialsum.models.builder.build_tokenizer/build_model, dialsum.data.features.cached_features)
from a config composed with hydra.compose (conf/, `experiment=sweep_demo` = 1000 training rows):
  A  bare transformers.Seq2SeqTrainer + DataCollatorForSeq2Seq, no evaluation, fixed max_steps
  B  dialsum.engine.trainer.build_trainer with TrainingArguments from dialsum's `training_arguments`,
     callbacks NanGuard, MetricHistory, ProgressLog, CsvLogger. Evaluation is turned off with
     dataclasses.replace(args, eval_strategy="no", save_strategy="no", load_best_model_at_end=False)
     (load_best_model_at_end needs an eval/save strategy, so it must go too). EvaluateAtEnd and the
     Optuna bridge are left out: they exist to evaluate, which is not what this measures.
A copies B's optimisation settings (lr, schedule, warmup, weight decay, clipping, logging_steps, seed),
both drop PrinterCallback, both start from a copy of the same initial weights with the same torch
threads. Runs alternate A,B,A,B,... ; the median train_steps_per_second (HF's own figure) is compared.

Usage: python benchmarks/bench_throughput.py [--steps 300] [--repeats 3] [--threads N] [--smoke]
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

from _common import ROOT, SHARED_CACHE, Bench, median, ratio

TARGET = 0.95  # B/A steps-per-second ratio at least this


def compose_cfg(overrides: list[str]):
    """The config `python train.py <overrides>` would run."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def prepare(cfg, cache: Path):
    """Tokenizer, pristine model and features exactly as dialsum.engine.run.train builds them."""
    from dialsum.data.features import FeatureSpec, ListDataset, cached_features
    from dialsum.data.splits import load_splits
    from dialsum.models.builder import build_model, build_tokenizer

    splits = load_splits(cfg.data)
    texts = list(splits.train["dialogue"]) + list(splits.train["summary"])
    tokenizer, family = build_tokenizer(cfg.model, texts, cache)
    model = build_model(cfg.model, tokenizer, family, int(cfg.training.seed))
    spec = FeatureSpec.from_model_config(cfg.model, family.decoder_only)
    train_rows = ListDataset(cached_features(splits.train, tokenizer, spec, cache, with_labels=True))
    val_rows = ListDataset(cached_features(splits.val, tokenizer, spec, cache, with_labels=True))
    return tokenizer, model, family, train_rows, val_rows, splits.val


def dialsum_args(cfg, out: Path):
    """B's TrainingArguments: dialsum's, with evaluation and saving off."""
    from dialsum.engine.trainer import training_arguments

    args = training_arguments(cfg, out, decoder_only=False)
    return dataclasses.replace(args, eval_strategy="no", save_strategy="no", load_best_model_at_end=False)


def bare_args(b_args, out: Path):
    """A's TrainingArguments: a plain script with B's optimisation settings."""
    from transformers import Seq2SeqTrainingArguments

    same = ("per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "weight_decay",
            "warmup_steps", "lr_scheduler_type", "max_grad_norm", "label_smoothing_factor", "max_steps", "seed",
            "logging_steps", "dataloader_num_workers", "disable_tqdm")
    return Seq2SeqTrainingArguments(output_dir=str(out), eval_strategy="no", save_strategy="no", report_to="none",
                                    use_cpu=True, **{k: getattr(b_args, k) for k in same})


def run_bare(args, model, tokenizer, train_rows):
    """Side A: transformers only."""
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Seq2SeqTrainer

    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train_rows, data_collator=collator,
                             processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    return timed_train(trainer)


def run_dialsum(cfg, args, model, tokenizer, train_rows, val_rows, val_frame, out: Path):
    """Side B: dialsum's trainer class, collator and callbacks."""
    from dialsum.engine.callbacks import CsvLogger, MetricHistory, NanGuard, ProgressLog, StepTimer
    from dialsum.engine.scoring import SummaryScorer
    from dialsum.engine.trainer import GenerationEval, build_trainer

    generation_eval = GenerationEval(prompts=[r["input_ids"] for r in val_rows.rows],
                                     references=list(val_frame["summary"]), fnames=list(val_frame["fname"]),
                                     dialogues=list(val_frame["dialogue"]), gen_cfg=cfg.generation,
                                     scorer=SummaryScorer(cfg.metric), decoder_only=False,
                                     n_log_examples=int(cfg.artifacts.n_log_examples))
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [NanGuard(), MetricHistory(), ProgressLog(), StepTimer(), CsvLogger(out / "metrics.csv")]
    trainer = build_trainer(cfg, args, model, tokenizer, train_rows, val_rows, generation_eval, callbacks)
    return timed_train(trainer)


def timed_train(trainer):
    """(TrainOutput, wall seconds of trainer.train() alone: set-up such as Kiwi for B is not counted)."""
    started = time.perf_counter()
    result = trainer.train()
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3, help="runs per side")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache-dir", type=Path, default=SHARED_CACHE)
    parser.add_argument("--smoke", action="store_true", help="10 steps, 1 run per side")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    steps, repeats = (10, 1) if args.smoke else (args.steps, args.repeats)
    os.environ.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    bench = Bench("throughput", f"dialsum trainer steps/s >= {TARGET:.2f} x bare Seq2SeqTrainer", args.smoke, args.keep)
    logging.basicConfig(level=logging.WARNING)

    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    overrides = ["experiment=sweep_demo", f"paths.cache_dir={args.cache_dir}", f"training.max_steps={steps}"]
    print(f"in-process: hydra.compose(config_name='train', overrides={overrides}); {steps} steps, "
          f"{args.threads} torch thread(s), {repeats} run(s) per side, alternating A,B")
    cfg = compose_cfg(overrides)
    started = time.perf_counter()
    tokenizer, pristine, family, train_rows, val_rows, val_frame = prepare(cfg, args.cache_dir)
    print(f"data + model + features: {time.perf_counter() - started:.1f} s; {len(train_rows)} training rows, "
          f"batch {cfg.training.per_device_train_batch_size}, model {family.model_class}")
    b_args = dialsum_args(cfg, bench.work / "b")
    a_args = bare_args(b_args, bench.work / "a")

    runs: dict[str, list[dict]] = {"A": [], "B": []}
    for i in range(repeats):
        for side in ("A", "B"):
            torch.set_num_threads(args.threads)
            model = copy.deepcopy(pristine)
            if side == "A":
                result, wall = run_bare(a_args, model, tokenizer, train_rows)
            else:
                result, wall = run_dialsum(cfg, b_args, model, tokenizer, train_rows, val_rows, val_frame,
                                           bench.work / f"b{i}")
            sps = result.metrics["train_steps_per_second"]
            runs[side].append({"steps_per_s": sps, "wall_s": round(wall, 3), "train_loss": result.training_loss,
                               "global_step": result.global_step})
            print(f"  run {i + 1} {side}: {sps:.2f} steps/s, {wall:.2f} s train() wall, loss {result.training_loss:.4f}",
                  flush=True)

    a = median([r["steps_per_s"] for r in runs["A"]])
    b = median([r["steps_per_s"] for r in runs["B"]])
    same_loss = all(abs(x["train_loss"] - y["train_loss"]) < 1e-6 for x, y in zip(runs["A"], runs["B"]))
    rows = [("A bare Seq2SeqTrainer median steps/s", a), ("B dialsum trainer median steps/s", b),
            ("ratio B/A", ratio(b, a)), ("identical training loss A vs B", same_loss),
            ("steps per run", steps), ("torch threads", args.threads)]
    return bench.finish(rows, (ratio(b, a) or 0) >= TARGET,
                        {"A": runs["A"], "B": runs["B"], "A_median_steps_per_s": a, "B_median_steps_per_s": b,
                         "ratio": ratio(b, a), "identical_loss": same_loss, "steps": steps, "threads": args.threads,
                         "overrides": overrides})


if __name__ == "__main__":
    sys.exit(main())
