"""Pretrained checkpoints: load the tokenizer the way the checkpoint was trained, and make the model's
special-token ids agree with it. Hub configs get these facts wrong (KoBART's decoder start defaults to
<usr>, KoGPT2's tokenizer has no special tokens set), so they come from conf/model/*.yaml, not from code."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dialsum.errors import DialsumError

log = logging.getLogger(__name__)

TOKENIZER_CLASSES = ("auto", "fast")
# Files that make a folder hold a tokenizer (fast JSON, sentencepiece, BPE vocab).
TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "sentencepiece.bpe.model", "vocab.json", "tokenizer_config.json")
# Special tokens every family needs to end labels, stop generating and pad batches (bos is optional).
REQUIRED = ("eos_token", "pad_token")


def load_tokenizer(name: str, checkpoint_cfg: Any, local_files_only: bool = False):
    """AutoTokenizer, or PreTrainedTokenizerFast for repos with only tokenizer.json (KoGPT2: AutoTokenizer
    builds a byte-level GPT-2 tokenizer from it in transformers 5 and produces garbage). local_files_only:
    never ask the hub (dialsum doctor checks the cache)."""
    import transformers

    kind = checkpoint_cfg.get("tokenizer_class", "auto")
    if kind not in TOKENIZER_CLASSES:
        raise DialsumError(f"model.checkpoint.tokenizer_class={kind!r} is unknown; use one of {TOKENIZER_CLASSES}.")
    _check_folder(name)
    specials = dict(checkpoint_cfg.get("special_tokens") or {})
    cls = transformers.AutoTokenizer if kind == "auto" else transformers.PreTrainedTokenizerFast
    try:
        tokenizer = cls.from_pretrained(name, local_files_only=local_files_only, **specials)
    except (OSError, ValueError) as err:
        raise DialsumError(unloadable(name, err)) from None
    _check_specials_in_vocab(tokenizer, specials, name)
    return tokenizer


def check_special_tokens(tokenizer: Any, name: str) -> None:
    """A tokenizer without eos/pad trains on labels that never end: stop before training, say the fix."""
    missing = [t for t in REQUIRED if getattr(tokenizer, t) is None]
    if missing:
        raise DialsumError(
            f"the tokenizer of {name!r} has no {', '.join(missing)} (special_tokens_map.json / tokenizer_config.json "
            f"set none). Fix: name them, e.g. model.checkpoint.special_tokens="
            f"{{{','.join(f'{t}:<token>' for t in missing)}}} with tokens from its vocabulary.")


def align_special_ids(model: Any, tokenizer: Any, decoder_start_token: str | None) -> None:
    """Model config and generation config take their special ids from the tokenizer, never from defaults."""
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
           "bos_token_id": tokenizer.bos_token_id}
    if model.config.is_encoder_decoder:
        start = token_id(tokenizer, decoder_start_token, "model.decoder_start_token")
        ids["decoder_start_token_id"] = start
        if getattr(model.config, "forced_eos_token_id", None) is not None:
            ids["forced_eos_token_id"] = tokenizer.eos_token_id  # BART's default 2 is <usr> in KoBART's vocabulary
    changed = []
    for key, value in ids.items():
        for target in (model.config, model.generation_config):
            old = getattr(target, key, None)
            if old != value:
                setattr(target, key, value)
                if target is model.config:
                    changed.append(f"{key} {old} -> {value} ({tokenizer.convert_ids_to_tokens(value) if value is not None else None})")
    if changed:
        log.info("special ids taken from the tokenizer: %s", "; ".join(changed))


def token_id(tokenizer: Any, token: str | None, key: str) -> int:
    """Id of a configured token, which must exist in the vocabulary."""
    if token is None:
        raise DialsumError(f"{key} is null but this is an encoder-decoder model: set the token its decoder "
                           f"starts from (</s> for BART/KoBART, <pad> for T5/mT5).")
    vocab = tokenizer.get_vocab()
    if token not in vocab:
        raise DialsumError(f"{key}={token!r} is not in the tokenizer's vocabulary; use one of its special "
                           f"tokens: {tokenizer.all_special_tokens}.")
    return vocab[token]


def _check_specials_in_vocab(tokenizer: Any, specials: dict[str, str], name: str) -> None:
    """Configured special tokens must be existing ids: a new id would need an untrained embedding row."""
    size = tokenizer.backend_tokenizer.get_vocab_size(with_added_tokens=False)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials.values()}
    new = [t for t, i in ids.items() if i is None or i >= size]
    if new:
        raise DialsumError(f"model.checkpoint.special_tokens names {new}, which the tokenizer of {name!r} does not "
                           f"have; use tokens of its vocabulary (its first ids: "
                           f"{tokenizer.convert_ids_to_tokens(list(range(min(8, size))))}).")


def _check_folder(name: str) -> None:
    """A local folder without tokenizer files is named as such, not as a hub failure."""
    path = Path(name)
    if path.is_dir() and not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise DialsumError(f"model.pretrained_name_or_path={name!r} has no tokenizer: none of "
                           f"{', '.join(TOKENIZER_FILES)} is in that folder. Copy the checkpoint's tokenizer files "
                           f"there (from the hub repo it was fine-tuned from).")


def unloadable(name: str, err: Exception) -> str:
    """The message for a checkpoint that cannot be loaded, by where it was looked for."""
    if Path(name).is_dir():
        return (f"model.pretrained_name_or_path={name!r} could not be loaded from that folder: {err}. Check that it "
                f"holds config.json, the weights (model.safetensors) and the tokenizer files.")
    return (f"model.pretrained_name_or_path={name!r} could not be loaded: not a local folder, not in the Hugging "
            f"Face cache, and the hub is unreachable or offline (HF_HUB_OFFLINE). Fix: on a machine with internet "
            f"run `hf download {name}` and copy ~/.cache/huggingface, or set model.pretrained_name_or_path="
            f"/path/to/checkpoint, or use model.init=scratch. ({type(err).__name__})")
