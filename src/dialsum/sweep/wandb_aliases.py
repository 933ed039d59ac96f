"""W&B sweep parameter names as our users wrote them (HF TrainingArguments style) -> dialsum config keys.

The table is the documented contract of `dialsum import-wandb` (README "W&B sweep files"). A name that is
already a dialsum key (`training.learning_rate`) passes as is; anything else is an error naming the closest
keys, never ignored."""
from __future__ import annotations

import difflib
from typing import Any

from dialsum.errors import DialsumError

ALIASES: dict[str, str] = {
    # optimisation (TrainingArguments names)
    "learning_rate": "training.learning_rate", "lr": "training.learning_rate",
    "per_device_train_batch_size": "training.per_device_train_batch_size",
    "batch_size": "training.per_device_train_batch_size", "train_batch_size": "training.per_device_train_batch_size",
    "per_device_eval_batch_size": "training.per_device_eval_batch_size",
    "gradient_accumulation_steps": "training.gradient_accumulation_steps",
    "warmup_ratio": "training.warmup_ratio", "warmup_steps": "training.warmup_steps",
    "weight_decay": "training.weight_decay", "label_smoothing": "training.label_smoothing_factor",
    "label_smoothing_factor": "training.label_smoothing_factor", "max_grad_norm": "training.max_grad_norm",
    "num_train_epochs": "training.num_train_epochs", "epochs": "training.num_train_epochs",
    "max_steps": "training.max_steps", "lr_scheduler_type": "training.lr_scheduler_type",
    "scheduler": "training.lr_scheduler_type", "seed": "training.seed",
    "auto_find_batch_size": "training.auto_find_batch_size",
    # model
    "dropout": "model.dropout", "dropout_rate": "model.dropout",
    "encoder_max_len": "model.max_source_length", "max_source_length": "model.max_source_length",
    "max_input_length": "model.max_source_length", "decoder_max_len": "model.max_target_length",
    "max_target_length": "model.max_target_length", "model": "model", "model_name": "model",
    # generation
    "num_beams": "generation.num_beams", "length_penalty": "generation.length_penalty",
    "no_repeat_ngram_size": "generation.no_repeat_ngram_size", "max_new_tokens": "generation.max_new_tokens",
    "generation_max_length": "generation.max_new_tokens",
    # memory
    "gradient_checkpointing": "hardware.gradient_checkpointing", "fp16": "hardware.fp16", "bf16": "hardware.bf16",
}
GROUPS = ("model", "data", "hardware", "logger", "experiment")  # config groups: a value picks a yaml file


def resolve_key(name: str, known_keys: dict[str, Any] | set[str]) -> str:
    """The dialsum key for a W&B parameter name (nested names joined with '.')."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "name" and name.rsplit(".", 1)[0] in GROUPS:  # model: {name: ...} picks the yaml: model.name=t5
        return name.rsplit(".", 1)[0]                          # alone only relabels the kobart it trains
    for candidate in (name, leaf):
        if candidate in known_keys or candidate in GROUPS:
            return candidate
        if candidate in ALIASES:
            return ALIASES[candidate]
    close = difflib.get_close_matches(leaf, list(ALIASES) + sorted(known_keys), n=3, cutoff=0.5)
    hint = f" Closest: {', '.join(close)}." if close else ""
    raise DialsumError(f"W&B parameter {name!r} has no dialsum key.{hint} Use a dialsum key (e.g. "
                       f"training.learning_rate) or a name from the alias table (README, 'W&B sweep files').")


def leaf_keys(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a composed config with their default values, for name resolution, suggestions and types."""
    keys: dict[str, Any] = {}
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        keys[dotted] = value
        if isinstance(value, dict):
            keys.update(leaf_keys(value, dotted + "."))
    return keys
