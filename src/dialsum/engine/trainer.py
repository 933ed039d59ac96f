"""Assemble HF (Seq2Seq)Trainer for a run, with generation-based evaluation on Korean ROUGE."""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import multiprocessing
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from transformers import (DataCollatorForSeq2Seq, EarlyStoppingCallback, PrinterCallback, Seq2SeqTrainer,
                          Seq2SeqTrainingArguments, Trainer, TrainingArguments)

from dialsum.data.features import IGNORE_INDEX
from dialsum.engine.generation import generate_summaries
from dialsum.engine.metric_names import trainer_key
from dialsum.engine.scoring import SummaryScorer
from dialsum.errors import DialsumError
from dialsum.sweep.devices import cpu_threads, precision_flags

log = logging.getLogger(__name__)

# Keys of conf/training that dialsum consumes itself; every other key goes to TrainingArguments.
DIALSUM_TRAINING_KEYS = ("warmup_ratio", "early_stopping_patience", "early_stopping_threshold", "resume_from_checkpoint")
# Loader processes per run on a GPU when training.dataloader_num_workers is null: the Trainer's default of 0 pads
# every batch on the training loop's own thread (32 DialogSum-ko rows: ~9 ms on this VM's CPU, against a step of
# ~70 ms for a KoBART-base on an H100, BENCHMARKS.md). On the CPU it stays 0: there the cores train.
GPU_LOADER_WORKERS = 2
LOG_EXCERPT_CHARS = 80  # characters of each example shown in the log at every evaluation


@dataclass
class GenerationEval:
    """What the generation pass needs: prompts, references and how to decode and score."""

    prompts: list[list[int]]
    references: list[str]
    fnames: list[str]
    dialogues: list[str]
    gen_cfg: DictConfig
    scorer: SummaryScorer
    decoder_only: bool
    n_log_examples: int
    cores: Any = None  # a sweep trial's core_share.FollowCoreShare: generation may use idle workers' cores
    last_rows: list[dict[str, Any]] = field(default_factory=list)

    def run(self, model: Any, tokenizer: Any, device: Any) -> dict[str, float]:
        """Generate, score, and keep per-example rows for predictions.jsonl and loggers."""
        with self.cores.lent() if self.cores is not None else contextlib.nullcontext():
            texts, lengths = generate_summaries(model, tokenizer, self.prompts, self.gen_cfg,
                                                self.decoder_only, device)
        metrics, per_example = self.scorer.score(texts, self.references, lengths)
        self.last_rows = [{"fname": f, "prediction": p, "reference": r, **s}
                          for f, p, r, s in zip(self.fnames, texts, self.references, per_example)]
        for row in self.last_rows[: self.n_log_examples]:
            log.info("  [%s] pred: %s | ref: %s", row["fname"], row["prediction"][:LOG_EXCERPT_CHARS],
                     row["reference"][:LOG_EXCERPT_CHARS])
        return metrics


class GenerativeEvalMixin:
    """Adds generated-summary metrics to Trainer's evaluation, before callbacks and best-model logic see it."""

    generation_eval: GenerationEval

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only=True,
                                         ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        metrics = self.generation_eval.run(self.model, self.processing_class, self.args.device)
        output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in metrics.items()})
        return output

    def _issue_warnings_after_load(self, load_result: Any) -> None:
        """transformers 5 reports tied weights (KoBART's embeddings and lm_head) as missing from the best
        checkpoint although they were loaded through the weight they share: report only keys really missing."""
        if hasattr(load_result, "_replace"):
            load_result = load_result._replace(missing_keys=really_missing(self.model, load_result.missing_keys))
        super()._issue_warnings_after_load(load_result)


def really_missing(model: Any, missing_keys: list[str]) -> list[str]:
    """Missing keys whose parameter is not shared with a key the checkpoint did hold."""
    names_by_param: dict[int, list[str]] = {}
    param_of: dict[str, int] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        names_by_param.setdefault(id(param), []).append(name)
        param_of[name] = id(param)
    missing = set(missing_keys)
    return [key for key in missing_keys
            if key not in param_of or all(name in missing for name in names_by_param[param_of[key]])]


class DialsumSeq2SeqTrainer(GenerativeEvalMixin, Seq2SeqTrainer):
    """Encoder-decoder families (kobart, t5, mt5)."""


class DialsumCausalTrainer(GenerativeEvalMixin, Trainer):
    """Decoder-only families (kogpt2)."""


def training_arguments(cfg: DictConfig, out_dir: Path, decoder_only: bool):
    """conf/training passes through to TrainingArguments; unknown keys fail with a suggestion."""
    args_cls = TrainingArguments if decoder_only else Seq2SeqTrainingArguments
    user = {k: v for k, v in OmegaConf.to_container(cfg.training, resolve=True).items()
            if k not in DIALSUM_TRAINING_KEYS}
    valid = {f.name for f in dataclasses.fields(args_cls)}
    for key in user:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean training.{close[0]}?" if close else ""
            raise DialsumError(f"training.{key} is not a TrainingArguments field (transformers 5).{hint}")
    user.update(_warmup(user.pop("warmup_steps", None), cfg.training.get("warmup_ratio")))
    hw, objective, precision = cfg.hardware, cfg.objective, precision_flags(cfg.hardware)
    cores = cpu_threads(int(cfg.trial.get("n_workers") or 1), None)  # this run's share of the machine's cores
    user.update(_loader_workers(user.pop("dataloader_num_workers", None), hw.accelerator, cores,
                                user.pop("dataloader_multiprocessing_context", None)))
    own = dict(
        output_dir=str(out_dir / "checkpoints"),
        report_to="none",  # dialsum logs itself (csv, wandb): one naming scheme
        # HF's filter logs a NaN loss as the window's average (0.0 once the weights are NaN), so NanGuard must
        # see the real value; under fp16 the grad scaler skips an overflowing step and training recovers: filter
        logging_nan_inf_filter=bool(precision["fp16"]),
        load_best_model_at_end=True,
        metric_for_best_model=trainer_key(objective.metric),
        greater_is_better=objective.direction == "maximize",
        prediction_loss_only=True,
        use_cpu=hw.accelerator == "cpu",
        **precision,  # hardware.fp16 / bf16, or hardware.precision when set
        **_checkpointing(args_cls, bool(hw.gradient_checkpointing)),
    )
    taken = sorted(set(user) & set(own))
    if taken:
        raise DialsumError(f"training.{taken[0]} is set by dialsum itself (from objective.*, hardware.* or the "
                           "run folder); remove it from training.")
    return args_cls(**user, **own)


def _warmup(steps: int | float | None, ratio: float | None) -> dict[str, int | float]:
    """warmup_steps when given (ratio then unused, said in the log), else warmup_ratio as transformers-5
    `warmup_steps=<float>`: one rule, so neither key is ever silently ignored."""
    if steps is not None:
        if ratio is not None:
            log.info("training.warmup_steps=%s is set: training.warmup_ratio=%s is not used", steps, ratio)
        return {"warmup_steps": steps}
    if ratio is None:
        return {}
    if not 0 <= float(ratio) < 1:
        raise DialsumError(f"training.warmup_ratio={ratio} must be in [0, 1).")
    return {"warmup_steps": float(ratio)}


def _loader_workers(workers: int | None, accelerator: str, cores: int, context: str | None) -> dict[str, Any]:
    """null: GPU_LOADER_WORKERS on a GPU (fewer when the run's share of the cores is smaller, e.g. a 1-CPU SLURM
    task), 0 on the CPU. Loader processes start by fork on Linux: in a joblib sweep worker the default context is
    loky's, whose Popen fails on torch's plain Process ('no attribute env'), and forkserver (Python 3.14's
    default) would pickle the collator with its CUDA model into each loader process."""
    if workers is None:
        workers = min(GPU_LOADER_WORKERS, cores - 1) if accelerator == "cuda" else 0
    if workers and context is None:
        context = "fork" if sys.platform.startswith("linux") else multiprocessing.get_all_start_methods()[0]
    return {"dataloader_num_workers": int(workers), "dataloader_multiprocessing_context": context}


def _checkpointing(args_cls: type, enabled: bool) -> dict[str, bool]:
    """Gradient checkpointing under its transformers-5 name when that exists (the old one warns)."""
    if not enabled:
        return {}
    names = {f.name for f in dataclasses.fields(args_cls)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": True}


def build_trainer(cfg: DictConfig, args, model: Any, tokenizer: Any, train_rows, val_rows,
                  generation_eval: GenerationEval, callbacks: list) -> Trainer:
    """The Trainer for this family, with early stopping when configured."""
    decoder_only = generation_eval.decoder_only
    trainer_cls = DialsumCausalTrainer if decoder_only else DialsumSeq2SeqTrainer
    collator = DataCollatorForSeq2Seq(tokenizer, model=None if decoder_only else model,
                                      label_pad_token_id=IGNORE_INDEX, pad_to_multiple_of=8 if (args.fp16 or args.bf16) else None)
    patience = cfg.training.early_stopping_patience
    if patience:
        callbacks = [*callbacks, EarlyStoppingCallback(int(patience), float(cfg.training.early_stopping_threshold))]
    trainer = trainer_cls(model=model, args=args, train_dataset=train_rows, eval_dataset=val_rows,
                          data_collator=collator, processing_class=tokenizer, callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)  # raw dict dumps; ProgressLog writes readable lines
    trainer.generation_eval = generation_eval
    return trainer
