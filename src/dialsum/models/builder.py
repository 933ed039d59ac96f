"""Build a run's tokenizer and model: a tiny model from scratch, or a pretrained checkpoint."""
from __future__ import annotations

import logging
from pathlib import Path

import transformers
from omegaconf import DictConfig

from dialsum.errors import DialsumError
from dialsum.models.checkpoint import align_special_ids, check_loadable, checkpoint_name, load_tokenizer, unloadable
from dialsum.models.registry import FamilySpec, get_family
from dialsum.models.tokenizers import add_tags, find_tags, keep_tag_spacing, train_scratch_tokenizer

log = logging.getLogger(__name__)
SCRATCH_MIN_LR = 1e-4     # below this a tiny scratch model does not learn in a sweep-sized budget (measured)
PRETRAINED_MAX_LR = 1e-3  # at or above this (the scratch default) fine-tuning a checkpoint destroys it


def build_tokenizer(model_cfg: DictConfig, train_texts: list[str], cache_dir: Path):
    """(tokenizer, family): trained from scratch (cached) or loaded with the checkpoint."""
    spec = get_family(model_cfg.family)
    if model_cfg.init == "scratch":
        s = model_cfg.scratch
        tokenizer = train_scratch_tokenizer(train_texts, s.tokenizer, int(s.vocab_size), cache_dir,
                                            encoder_decoder=not spec.decoder_only)
    elif model_cfg.init == "pretrained":
        tokenizer = check_loadable(model_cfg, spec, max_new_tokens=None)
        add_tags(tokenizer, find_tags(train_texts))
    else:
        raise DialsumError(f"model.init={model_cfg.init!r} is unknown; use 'scratch' or 'pretrained'.")
    if spec.decoder_only:
        tokenizer.padding_side = "right"  # training; generation pads left explicitly
    return tokenizer, spec


def load_run_tokenizer(folder: Path, model_cfg: DictConfig):
    """A run's saved tokenizer, encoding exactly as in training: transformers 5's T5Tokenizer rebuilds its
    pre-tokenizer on load (the saved tokenizer.json's is ignored), which drops the tag spacing set at build
    time, so it is set again (a no-op for tokenizers that kept it)."""
    checkpoint = model_cfg.get("checkpoint") if model_cfg.get("init") == "pretrained" else None
    tokenizer = load_tokenizer(str(folder), checkpoint or {})
    keep_tag_spacing(tokenizer)
    return tokenizer


def build_model(model_cfg: DictConfig, tokenizer, spec: FamilySpec, seed: int):
    """The model for this tokenizer; logs plainly which model and init ran."""
    transformers.set_seed(seed)  # initial weights depend on the run's seed only
    model_class = getattr(transformers, spec.model_class)
    if model_cfg.init == "scratch":
        ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
               "eos_token_id": tokenizer.eos_token_id, "vocab_size": len(tokenizer)}
        kwargs = spec.scratch_config(model_cfg.scratch, float(model_cfg.dropout), ids)
        kwargs.update(model_cfg.scratch.get("config_overrides") or {})
        model = model_class(getattr(transformers, spec.config_class)(**kwargs))
        align_special_ids(model, tokenizer, model_cfg.get("decoder_start_token"))
        log.info("model=%s init=scratch: a tiny %s (%.2f M parameters) trained from zero. For the real "
                 "checkpoint: model.init=pretrained (model.pretrained_name_or_path=%s).", model_cfg.name,
                 spec.model_class, _n_params(model) / 1e6, model_cfg.pretrained_name_or_path)
        return model
    name = checkpoint_name(model_cfg)
    dropout = {k: float(model_cfg.dropout) for k in spec.dropout_keys}
    try:
        model = model_class.from_pretrained(name, **dropout)
    except (OSError, ValueError) as err:
        raise DialsumError(unloadable(name, err)) from None
    rows, base = model.get_input_embeddings().num_embeddings, tokenizer.backend_tokenizer.get_vocab_size(False)
    if base > rows:  # growing the embeddings would give its ids rows the checkpoint never trained
        raise DialsumError(f"the tokenizer of {name!r} has {base} tokens but the checkpoint's embeddings {rows} rows: "
                           "it is not the tokenizer this checkpoint was trained with. Fix: the checkpoint's own "
                           "tokenizer files in that folder.")
    if rows < len(tokenizer):  # the tags added to the tokenizer
        model.resize_token_embeddings(len(tokenizer))
    align_special_ids(model, tokenizer, model_cfg.get("decoder_start_token"))
    log.info("model=%s init=pretrained: %s (%.1f M parameters)", model_cfg.name, name, _n_params(model) / 1e6)
    return model


def warn_learning_rate(model_cfg: DictConfig, learning_rate: object) -> None:
    """A fine-tuning rate on a scratch model (or the reverse) trains to nothing, silently: say so at start."""
    if not isinstance(learning_rate, (int, float)):
        return  # a mistyped value is reported by the config check
    if model_cfg.init == "scratch" and learning_rate < SCRATCH_MIN_LR:
        log.warning("model.init=scratch with training.learning_rate=%g: a tiny model trained from zero barely moves "
                    "at fine-tuning rates (ROUGE stays near 0). Use ~1e-3 for scratch (the default), or fine-tune a "
                    "checkpoint with model.init=pretrained.", learning_rate)
    elif model_cfg.init == "pretrained" and learning_rate >= PRETRAINED_MAX_LR:
        log.warning("model.init=pretrained with training.learning_rate=%g: rates this large overwrite what the "
                    "checkpoint learned; fine-tuning wants ~1e-5..1e-4.", learning_rate)


def _n_params(model) -> int:
    """Parameter count for the log line."""
    return sum(p.numel() for p in model.parameters())
