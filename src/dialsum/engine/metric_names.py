"""One naming scheme for metrics everywhere (logs, metrics.json, objective, W&B): `eval/rouge1_f1`."""
from __future__ import annotations

from typing import Any

from dialsum.errors import DialsumError

# Metrics every evaluation logs, under the names users and sweepers refer to.
EVAL_METRICS = (
    "eval/loss", "eval/rouge1_f1", "eval/rouge2_f1", "eval/rougeL_f1", "eval/rouge_combined_f1",
    "eval/gen_len", "eval/repetition_rate", "eval/composite",
)
DIRECTIONS = ("maximize", "minimize")
# HF Trainer's own keys for train-time logs -> our names.
_TRAIN_KEYS = {"loss": "train/loss", "learning_rate": "train/learning_rate", "grad_norm": "train/grad_norm",
               "epoch": "train/epoch"}


def check_objective(metric: str, direction: str) -> None:
    """Fail before training, listing what exists, when the objective cannot be produced."""
    if metric not in EVAL_METRICS:
        raise DialsumError(f"objective.metric={metric!r} is not a metric dialsum logs; available: "
                           f"{', '.join(EVAL_METRICS)}.")
    if direction not in DIRECTIONS:
        raise DialsumError(f"objective.direction={direction!r}; use one of {DIRECTIONS}.")


def trainer_key(public: str) -> str:
    """`eval/rouge1_f1` -> `rouge1_f1`, the form Trainer's metric_for_best_model takes."""
    return public.split("/", 1)[1]


def to_public(logs: dict[str, Any]) -> dict[str, Any]:
    """Trainer log dict -> dialsum names (`eval_x` -> `eval/x`, `loss` -> `train/loss`, ...)."""
    out: dict[str, Any] = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            out["eval/" + key[len("eval_"):]] = value
        elif key.startswith("train_"):
            out["train/" + key[len("train_"):]] = value
        else:
            out[_TRAIN_KEYS.get(key, "train/" + key)] = value
    return out
