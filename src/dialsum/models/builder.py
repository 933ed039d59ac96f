"""Build a run's tokenizer and model: a tiny model from scratch, or a pretrained checkpoint."""
from __future__ import annotations

import logging
from pathlib import Path

import transformers
from omegaconf import DictConfig

from dialsum.errors import DialsumError
from dialsum.models.registry import FamilySpec, get_family
from dialsum.models.tokenizers import add_tags, find_tags, train_scratch_tokenizer

log = logging.getLogger(__name__)


def build_tokenizer(model_cfg: DictConfig, train_texts: list[str], cache_dir: Path):
    """(tokenizer, family): trained from scratch (cached) or loaded with the checkpoint."""
    spec = get_family(model_cfg.family)
    if model_cfg.init == "scratch":
        s = model_cfg.scratch
        tokenizer = train_scratch_tokenizer(train_texts, s.tokenizer, int(s.vocab_size), cache_dir,
                                            encoder_decoder=not spec.decoder_only)
    elif model_cfg.init == "pretrained":
        tokenizer = _load(lambda: transformers.AutoTokenizer.from_pretrained(model_cfg.pretrained_name_or_path),
                          model_cfg.pretrained_name_or_path)
        if tokenizer.pad_token is None:  # GPT-2 checkpoints ship without one
            tokenizer.pad_token = tokenizer.eos_token
        add_tags(tokenizer, find_tags(train_texts))
    else:
        raise DialsumError(f"model.init={model_cfg.init!r} is unknown; use 'scratch' or 'pretrained'.")
    if spec.decoder_only:
        tokenizer.padding_side = "right"  # training; generation pads left explicitly
    return tokenizer, spec


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
        log.info("model=%s init=scratch: a tiny %s (%.2f M parameters) trained from zero. For the real "
                 "checkpoint: model.init=pretrained (model.pretrained_name_or_path=%s).", model_cfg.name,
                 spec.model_class, _n_params(model) / 1e6, model_cfg.pretrained_name_or_path)
        return model
    name = model_cfg.pretrained_name_or_path
    dropout = {k: float(model_cfg.dropout) for k in spec.dropout_keys}
    model = _load(lambda: model_class.from_pretrained(name, **dropout), name)
    if model.get_input_embeddings().num_embeddings < len(tokenizer):  # the tags added to the tokenizer
        model.resize_token_embeddings(len(tokenizer))
    log.info("model=%s init=pretrained: %s (%.1f M parameters)", model_cfg.name, name, _n_params(model) / 1e6)
    return model


def _load(loader, name: str):
    """Run a from_pretrained call; offline without a cached copy is one clear error."""
    try:
        return loader()
    except (OSError, ValueError) as err:
        raise DialsumError(
            f"model.pretrained_name_or_path={name!r} could not be loaded: not a local folder, not in the "
            f"Hugging Face cache, and the hub is unreachable or offline (HF_HUB_OFFLINE). Fix: on a machine "
            f"with internet run `hf download {name}` and copy ~/.cache/huggingface, or set "
            f"model.pretrained_name_or_path=/path/to/checkpoint, or use model.init=scratch. ({type(err).__name__})"
        ) from None


def _n_params(model) -> int:
    """Parameter count for the log line."""
    return sum(p.numel() for p in model.parameters())
