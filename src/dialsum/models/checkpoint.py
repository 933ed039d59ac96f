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
# Special tokens every family needs to end labels, stop generating and pad batches (bos: when sources start with it).
REQUIRED = ("eos_token", "pad_token")
KOREAN_PROBE = "안녕하세요 내일 오후에 회의실에서 만나요"  # a phrase any Korean-trained vocabulary keeps in few tokens
BYTE_SPLIT_RATIO = 0.7  # tokens per UTF-8 byte at or above which a tokenizer reads Korean byte by byte
# A dialsum run folder: its fine-tuned model sits in model/ (what model.pretrained_name_or_path should name).
RUN_FOLDER_MARKERS = ("metrics.json", ".hydra")


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


def check_loadable(model_cfg: Any, spec: Any, max_new_tokens: int | None, local_files_only: bool = False) -> Any:
    """Everything about a pretrained checkpoint that can be known without its weights (architecture, lengths,
    tokenizer, special tokens, decoder start): training, `dialsum doctor` and a sweep before its first trial ask
    it (training checks lengths on the built model instead: max_new_tokens None). The tokenizer."""
    name = checkpoint_name(model_cfg)
    config = check_architecture(name, spec, local_files_only)
    if config is not None and max_new_tokens is not None:
        check_lengths(config, model_cfg, max_new_tokens)
    tokenizer = load_tokenizer(name, model_cfg.checkpoint, local_files_only)
    check_reads_korean(tokenizer, name, model_cfg.checkpoint.get("tokenizer_class", "auto"))
    check_special_tokens(tokenizer, name, bool(model_cfg.get("source_bos", False)))
    if not spec.decoder_only:
        token_id(tokenizer, model_cfg.get("decoder_start_token"), "model.decoder_start_token")
    return tokenizer


def check_architecture(name: str, spec: Any, local_files_only: bool = False) -> Any:
    """A checkpoint of another architecture would load into this family's class with random weights (transformers
    only lists the missing ones) and train to nothing with exit 0: refuse it, naming the model= that fits. Returns
    the checkpoint's config (None when it has no readable config.json)."""
    import transformers

    from dialsum.models.registry import family_of_model_type

    try:
        config = transformers.AutoConfig.from_pretrained(name, local_files_only=local_files_only)
    except (OSError, ValueError):
        return None  # no readable config.json: loading the model names that problem
    found = getattr(config, "model_type", None)
    if not found or found in spec.model_types:
        return config
    fits = family_of_model_type(found)
    fix = (f"model={fits.preset} (it sets model.family={fits.name} and that family's tokens)" if fits else
           f"a checkpoint of model.family={spec.name} ({', '.join(spec.model_types)}); dialsum builds bart, gpt2, t5 "
           "and mt5 models")
    raise DialsumError(f"model.pretrained_name_or_path={name!r} is a {found} checkpoint (config.json model_type), but "
                       f"model.family={spec.name} builds {spec.model_class}: its weights would not load. Fix: {fix}.")


def check_lengths(config: Any, model_cfg: Any, max_new_tokens: int) -> None:
    """Lengths past the model's learned positions crash mid-run (an index error in the first long batch or the first
    evaluation): refuse them at start. T5's relative positions have no limit."""
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if not limit or config.model_type in ("t5", "mt5"):
        return
    source, target = int(model_cfg.max_source_length), int(model_cfg.max_target_length)
    if config.is_encoder_decoder:  # (what, its length, the fix)
        needs = [("model.max_source_length", source, f"model.max_source_length at most {limit}"),
                 ("model.max_target_length", target, f"model.max_target_length at most {limit}"),
                 ("generation.max_new_tokens + 1 (the decoder start)", max_new_tokens + 1,
                  f"generation.max_new_tokens at most {limit - 1}")]
    else:  # one sequence: the prompt, then the summary (training) or the generated tokens (evaluation)
        needs = [("model.max_source_length + model.max_target_length", source + target,
                  f"model.max_source_length + model.max_target_length at most {limit}"),
                 ("model.max_source_length + generation.max_new_tokens", source + max_new_tokens,
                  f"model.max_source_length + generation.max_new_tokens at most {limit}")]
    over = [(f"{what} = {n}", fix) for what, n, fix in needs if n > limit]
    if over:
        raise DialsumError(f"{'; '.join(w for w, _ in over)}: more than the {limit} positions this model has. Fix: "
                           f"{'; '.join(f for _, f in over)}.")


def check_reads_korean(tokenizer: Any, name: str, kind: str) -> None:
    """A tokenizer loaded by the wrong class can split Korean into bytes (KoGPT2's tokenizer.json read as GPT-2's
    byte-level BPE by AutoTokenizer in transformers 5): ids the checkpoint never learned, and a run that still
    ends with exit 0. A tokenizer trained on Korean writes a common phrase back as it was, in fewer tokens than
    its bytes."""
    ids = tokenizer(KOREAN_PROBE, add_special_tokens=False)["input_ids"]
    back = tokenizer.decode(ids, skip_special_tokens=True)
    n_bytes = len(KOREAN_PROBE.encode("utf-8"))
    if back.replace(" ", "") != KOREAN_PROBE.replace(" ", "") or len(ids) >= BYTE_SPLIT_RATIO * n_bytes:
        other = "fast" if kind == "auto" else "auto"
        raise DialsumError(f"the tokenizer of {name!r} ({type(tokenizer).__name__}) does not read Korean as its "
                           f"checkpoint learned it: {KOREAN_PROBE!r} became {len(ids)} tokens that decode to "
                           f"{back!r}. Fix: model.checkpoint.tokenizer_class={other} (AutoTokenizer follows config.json to the "
                           "architecture's own class, which reads KoGPT2's tokenizer.json, or KoBART's without its "
                           "tokenizer_config.json, as byte-level BPE), or the checkpoint's own tokenizer files; a "
                           "checkpoint whose vocabulary has no Korean cannot learn this task.")


def check_special_tokens(tokenizer: Any, name: str, source_bos: bool = False) -> None:
    """A tokenizer without eos/pad trains on labels that never end, and one without the bos the sources start
    with (model.source_bos) feeds the checkpoint inputs it never saw: stop before training, say the fix."""
    needed = REQUIRED + (("bos_token",) if source_bos else ())
    missing = [t for t in needed if getattr(tokenizer, t) is None]
    if missing:
        bos = " (or model.source_bos=false)" if "bos_token" in missing else ""
        raise DialsumError(
            f"the tokenizer of {name!r} has no {', '.join(missing)} (special_tokens_map.json / tokenizer_config.json "
            f"set none). Fix: name them with tokens from its vocabulary, e.g. "
            f"{' '.join(_special_override(t) for t in missing)}{bos}.")


def _special_override(token: str) -> str:
    """A command-line override that sets one special token whether or not the model's config lists any."""
    example = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}[token]
    return f"'++model.checkpoint.special_tokens.{token}=\"{example}\"'"


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
    if path.is_dir() and any((path / m).exists() for m in RUN_FOLDER_MARKERS) and not (path / "config.json").is_file():
        raise DialsumError(f"model.pretrained_name_or_path={name!r} is a dialsum run folder; its trained model is in "
                           f"its model/ folder: model.pretrained_name_or_path={path / 'model'}" if (path / "model").is_dir()
                           else f"model.pretrained_name_or_path={name!r} is a dialsum run folder that kept no model "
                           "(artifacts.save_model=false): point it at one of its checkpoints/checkpoint-N folders, or "
                           "retrain with artifacts.save_model=true.")
    steps = sorted((p for p in path.glob("checkpoint-*") if p.name[11:].isdigit()), key=lambda p: int(p.name[11:])) \
        if path.is_dir() else []
    if steps and not (path / "config.json").is_file():
        raise DialsumError(f"model.pretrained_name_or_path={name!r} holds Trainer checkpoints, not one: pick one "
                           f"of them, e.g. model.pretrained_name_or_path={steps[-1]}")
    if path.is_file():
        raise DialsumError(f"model.pretrained_name_or_path={name!r} is a file; give the folder it is in "
                           f"(model.pretrained_name_or_path={path.parent}).")
    if path.is_dir() and not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise DialsumError(f"model.pretrained_name_or_path={name!r} has no tokenizer: none of "
                           f"{', '.join(TOKENIZER_FILES)} is in that folder. Copy the checkpoint's tokenizer files "
                           f"there (from the hub repo it was fine-tuned from).")


def unloadable(name: str, err: Exception) -> str:
    """The message for a checkpoint that cannot be loaded, by where it was looked for."""
    if Path(name).is_dir():
        return (f"model.pretrained_name_or_path={name!r} could not be loaded from that folder: {err}. Check that it "
                f"holds config.json, the weights (model.safetensors) and the tokenizer files.")
    if looks_like_path(name):
        return (f"model.pretrained_name_or_path={name!r}: no such folder. Fix: the path of the checkpoint folder "
                f"(config.json, weights, tokenizer files), or a hub id such as digit82/kobart-summarization.")
    if cached_file(name, "config.json") and isinstance(err, OSError):  # a file the cache lacks, not a bad file
        return (f"model.pretrained_name_or_path={name!r} is only partly in the Hugging Face cache (config.json, not "
                f"all of the weights and tokenizer files: {type(err).__name__}: {err}). Fix: on a machine with "
                f"internet run `hf download {name}` and copy ~/.cache/huggingface again.")
    return (f"model.pretrained_name_or_path={name!r} could not be loaded: not a local folder, not in the Hugging "
            f"Face cache, and the hub is unreachable or offline (HF_HUB_OFFLINE). Fix: on a machine with internet "
            f"run `hf download {name}` and copy ~/.cache/huggingface, or set model.pretrained_name_or_path="
            f"/path/to/checkpoint, or use model.init=scratch. ({type(err).__name__})")


def looks_like_path(name: str) -> bool:
    """A filesystem path, not a hub id (owner/name): absolute, relative with ./ or ../, home, or deeper than 2."""
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1


def checkpoint_name(model_cfg: Any) -> str:
    """model.pretrained_name_or_path with `~` expanded (from_pretrained would take `~/ckpt` for a hub id)."""
    name = str(model_cfg.pretrained_name_or_path)
    return str(Path(name).expanduser()) if name.startswith("~") else name


def cached_file(name: str, filename: str) -> bool:
    """The hub repo's file is in the local Hugging Face cache (no network call)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, filename), str)
    except Exception:  # noqa: BLE001 - not a valid repo id
        return False
