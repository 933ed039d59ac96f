"""Trainer callbacks: NaN guard, an evaluation at the last step, step timing, metric history and the CSV log."""
from __future__ import annotations

import csv
import logging
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from dialsum.engine.metric_names import to_public
from dialsum.errors import TrainingDiverged

log = logging.getLogger(__name__)


class NanGuard(TrainerCallback):
    """Stop a diverged run at once: a NaN loss would otherwise burn the rest of the budget."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        self._check(args, state, "training loss", (logs or {}).get("loss"))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._check(args, state, "validation loss", (metrics or {}).get("eval_loss"))

    @staticmethod
    def _check(args: Any, state: Any, what: str, value: float | None) -> None:
        """Raise on a NaN/inf value (under fp16, HF filters the grad scaler's skipped overflow steps out of it)."""
        if value is not None and not math.isfinite(value):
            overflow = (" With fp16 on, this is often float16 overflow (T5/mT5 especially): try hardware=bf16 "
                        "or fp32 (hardware=gpu).") if getattr(args, "fp16", False) else ""
            raise TrainingDiverged(f"{what} became {value} at step {state.global_step}; lower "
                                   f"training.learning_rate or enable gradient clipping (max_grad_norm).{overflow}")


class EvaluateAtEnd(TrainerCallback):
    """The last step is always evaluated and saved, so every run has a scored best checkpoint."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
            control.should_save = True
        return control


class StepTimer(TrainerCallback):
    """Training samples/s over optimizer steps alone: evaluation, checkpoints and logging between steps are
    not counted, so runs with different evaluation settings (or a bare Trainer) compare. The first 10 % of
    steps (at least one) are warm-up and left out: CUDA context, kernel selection for each new batch shape."""

    WARMUP_SHARE = 0.1

    def __init__(self) -> None:
        self.steps: list[tuple[float, int]] = []  # (seconds, samples) of each optimizer step
        self._began: float | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._began is not None:
            # the batch actually trained (auto_find_batch_size may have shrunk it)
            batch = getattr(state, "train_batch_size", None) or args.per_device_train_batch_size
            self.steps.append((time.perf_counter() - self._began,
                               batch * args.gradient_accumulation_steps * args.world_size))
        self._began = None

    def samples_per_s(self) -> float | None:
        """None when no step is left after the warm-up."""
        timed = self.steps[max(1, math.ceil(len(self.steps) * self.WARMUP_SHARE)):]
        seconds = sum(s for s, _ in timed)
        return round(sum(n for _, n in timed) / seconds, 2) if seconds > 0 else None


class MetricHistory(TrainerCallback):
    """Every evaluation's metrics under public names, with step and evaluation index."""

    def __init__(self) -> None:
        self.evaluations: list[dict[str, Any]] = []
        self._rebuilt: set[int] = set()  # steps read back from a resumed checkpoint

    def on_train_begin(self, args, state, control, **kwargs):
        """Resumed: the checkpoint's log history holds the earlier evaluations (the kept best may be one)."""
        if state.global_step > 0 and not self.evaluations:
            for entry in state.log_history:
                if any(k.startswith("eval_") for k in entry) and entry.get("step", 0) <= state.global_step:
                    self._add(int(entry["step"]), entry)
                    self._rebuilt.add(int(entry["step"]))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if state.global_step not in self._rebuilt:  # eval_on_start re-scores the resumed step: once is enough
            self._add(state.global_step, metrics or {})

    def _add(self, step: int, metrics: dict[str, Any]) -> None:
        """One evaluation under public names."""
        row = {"step": step, "eval_index": len(self.evaluations)}
        row.update({k: v for k, v in to_public(metrics).items() if k.startswith("eval/")})
        self.evaluations.append(row)


class CsvLogger(TrainerCallback):
    """Long-format CSV (step, metric, value): any column set, appendable, opens in any tool. Under DDP
    (torchrun) only the world's process zero writes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        kept: list[list[str]] = []
        if state.global_step > 0 and self.path.is_file():  # resumed: keep the rows up to the checkpoint's step
            with self.path.open(newline="", encoding="utf-8") as fh:
                kept = [row for row in list(csv.reader(fh))[1:] if row and _step(row[0]) <= state.global_step]
        with self.path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([["step", "metric", "value"], *kept])

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            for key, value in to_public(logs or {}).items():
                if isinstance(value, (int, float)):
                    writer.writerow([state.global_step, key, value])


class ProgressLog(TrainerCallback):
    """One readable log line per logging step and per evaluation (instead of tqdm bars and dict dumps)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        public = to_public(logs or {})
        if "train/loss" in public and "train/learning_rate" in public:
            log.info("step %d/%d  loss %.4f  lr %.2e", state.global_step, state.max_steps,
                     public["train/loss"], public.get("train/learning_rate", float("nan")))
        elif "eval/rouge_combined_f1" in public:
            log.info("eval @ step %d: rouge1 %.4f rouge2 %.4f rougeL %.4f combined %.4f loss %.4f gen_len %.1f",
                     state.global_step, public["eval/rouge1_f1"], public["eval/rouge2_f1"], public["eval/rougeL_f1"],
                     public["eval/rouge_combined_f1"], public.get("eval/loss", float("nan")), public["eval/gen_len"])


def _step(text: str) -> float:
    """A step cell of an earlier run's CSV; an unreadable one sorts after every checkpoint (dropped)."""
    try:
        return float(text)
    except ValueError:
        return math.inf
