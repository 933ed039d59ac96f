"""Build (tokenizer, model) for a run: a tiny model from scratch, or a pretrained checkpoint."""
from __future__ import annotations

import logging
from pathlib import Path

import transformers
from omegaconf import DictConfig

from dialsum.errors import DialsumError
from dialsum.models.registry import FamilySpec, get_family
from dialsum.models.tokenizers import add_tags, find_tags, train_scratch_tokenizer

log = logging.getLogger(__name__)


def build(model_cfg: DictConfig, train_texts: list[str], cache_dir: Path, seed: int):
    """Return (tokenizer, model, family spec); logs plainly which model and init ran."""
    spec = get_family(model_cfg.family)
    if model_cfg.init == "scratch":
        tokenizer, model = _from_scratch(spec, model_cfg, train_texts, cache_dir, seed)
        log.info("model=%s init=scratch: a tiny %s (%.2f M parameters) trained from zero. For the real "
                 "checkpoint: model.init=pretrained (model.pretrained_name_or_path=%s).", model_cfg.name,
                 spec.model_class, _n_params(model) / 1e6, model_cfg.pretrained_name_or_path)
    elif model_cfg.init == "pretrained":
        tokenizer, model = _pretrained(spec, model_cfg, train_texts)
        log.info("model=%s init=pretrained: %s (%.1f M parameters)", model_cfg.name,
                 model_cfg.pretrained_name_or_path, _n_params(model) / 1e6)
    else:
        raise DialsumError(f"model.init={model_cfg.init!r} is unknown; use 'scratch' or 'pretrained'.")
    if spec.decoder_only:
        tokenizer.padding_side = "right"  # training; generation pads left explicitly
    return tokenizer, model, spec


def _from_scratch(spec: FamilySpec, model_cfg: DictConfig, texts: list[str], cache_dir: Path, seed: int):
    """Same architecture family at a tiny size, with a tokenizer trained on the training split."""
    s = model_cfg.scratch
    tokenizer = train_scratch_tokenizer(texts, s.tokenizer, int(s.vocab_size), cache_dir,
                                        encoder_decoder=not spec.decoder_only)
    ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
           "eos_token_id": tokenizer.eos_token_id, "vocab_size": len(tokenizer)}
    kwargs = spec.scratch_config(s, float(model_cfg.dropout), ids)
    kwargs.update(s.get("config_overrides") or {})
    config = getattr(transformers, spec.config_class)(**kwargs)
    transformers.set_seed(seed)  # the initial weights depend on the run's seed only
    return tokenizer, getattr(transformers, spec.model_class)(config)


def _pretrained(spec: FamilySpec, model_cfg: DictConfig, texts: list[str]):
    """Load a hub id or local folder; offline without a cached copy is one clear error."""
    name = model_cfg.pretrained_name_or_path
    dropout = {k: float(model_cfg.dropout) for k in spec.dropout_keys}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name)
        model = getattr(transformers, spec.model_class).from_pretrained(name, **dropout)
    except (OSError, ValueError) as err:
        raise DialsumError(
            f"model.pretrained_name_or_path={name!r} could not be loaded: not a local folder, not in the "
            f"Hugging Face cache, and the hub is unreachable or offline (HF_HUB_OFFLINE). Fix: on a machine "
            f"with internet run `hf download {name}` and copy ~/.cache/huggingface, or set "
            f"model.pretrained_name_or_path=/path/to/checkpoint, or use model.init=scratch. ({type(err).__name__})"
        ) from None
    if tokenizer.pad_token is None:  # GPT-2 checkpoints ship without one
        tokenizer.pad_token = tokenizer.eos_token
    if add_tags(tokenizer, find_tags(texts)):
        model.resize_token_embeddings(len(tokenizer))
    return tokenizer, model


def _n_params(model) -> int:
    """Parameter count for the log line."""
    return sum(p.numel() for p in model.parameters())
