"""The bare side of gpu_check.py's speed step: a plain HF Seq2SeqTrainer on the same model and data as dialsum.

Inputs are made with dialsum's own data pieces from the same cache, so both sides train on identical token
ids with identical initial weights: the config composed from the same overrides (hydra.compose), then
load_splits -> build_tokenizer -> build_model (seeded) -> cached_features. Training is transformers only:
Seq2SeqTrainingArguments with the run's batch, learning rate, schedule and precision, DataCollatorForSeq2Seq,
no evaluation, no saving. Samples/s is timed over optimizer steps only, with the same StepTimer definition
dialsum records in metrics.json (first 10 % of steps left out), so the two numbers compare.

Usage (gpu_check.py runs it): python benchmarks/bare_seq2seq.py --out result.json -- <train.py overrides>
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def compose(overrides: list[str]):
    """The config `python train.py <overrides>` runs (hydra.* overrides dropped: no job here)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=[o for o in overrides if not o.startswith("hydra.")])


def prepare(cfg):
    """Tokenizer, model and training rows exactly as dialsum.engine.run.train builds them."""
    from dialsum.data.features import FeatureSpec, ListDataset, cached_features
    from dialsum.data.splits import load_splits
    from dialsum.models.builder import build_model, build_tokenizer

    cache = Path(cfg.paths.cache_dir)
    splits = load_splits(cfg.data, cache)
    texts = list(splits.train["dialogue"]) + list(splits.train["summary"])
    tokenizer, family = build_tokenizer(cfg.model, texts, cache)
    model = build_model(cfg.model, tokenizer, family, int(cfg.training.seed))
    spec = FeatureSpec.from_model_config(cfg.model, family.decoder_only)
    rows = ListDataset(cached_features(splits.train, tokenizer, spec, cache, with_labels=True))
    return tokenizer, model, rows


def train_bare(cfg, tokenizer, model, rows, out_dir: Path) -> dict:
    """Seq2SeqTrainer with the run's optimisation settings; returns the timings."""
    import torch
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Seq2SeqTrainer, Seq2SeqTrainingArguments

    from dialsum.engine.callbacks import StepTimer  # measurement only: the definition dialsum records

    t, hw = cfg.training, cfg.hardware
    precision = hw.get("precision")
    fp16 = precision == "fp16" if precision else bool(hw.fp16)
    bf16 = precision == "bf16" if precision else bool(hw.bf16)
    args = Seq2SeqTrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=int(t.per_device_train_batch_size),
        gradient_accumulation_steps=int(t.gradient_accumulation_steps), learning_rate=float(t.learning_rate),
        weight_decay=float(t.weight_decay), lr_scheduler_type=str(t.lr_scheduler_type),
        warmup_steps=float(t.warmup_ratio or 0), max_grad_norm=float(t.max_grad_norm), max_steps=int(t.max_steps),
        label_smoothing_factor=float(t.label_smoothing_factor), seed=int(t.seed), logging_steps=int(t.logging_steps),
        eval_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=hw.accelerator == "cpu", fp16=fp16, bf16=bf16)
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100,
                                      pad_to_multiple_of=8 if (fp16 or bf16) else None)
    timer = StepTimer()
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=rows, data_collator=collator,
                             processing_class=tokenizer, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    result = trainer.train()
    cuda = args.device.type == "cuda"
    return {"train_samples_per_s": timer.samples_per_s(), "hf_train_samples_per_second": result.metrics.get(
                "train_samples_per_second"), "train_wall_s": round(time.perf_counter() - started, 2),
            "n_gpu": args.n_gpu, "train_batch_size": trainer.state.train_batch_size, "global_step": result.global_step,
            "train_loss": result.training_loss, "device": str(args.device),
            "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
            "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
            "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "vocab_rows": model.get_input_embeddings().num_embeddings, "torch_threads": torch.get_num_threads(),
            "precision": "fp16" if fp16 else
            "bf16" if bf16 else "fp32", "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    import transformers

    transformers.utils.logging.disable_progress_bar()
    cfg = compose(args.overrides)
    tokenizer, model, rows = prepare(cfg)
    result = train_bare(cfg, tokenizer, model, rows, args.out.parent / "bare_trainer")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
