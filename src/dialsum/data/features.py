"""Tokenized features, cached on disk by content so later runs and every sweep trial skip tokenizing."""
from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dialsum.tracking.atomic import write_bytes

log = logging.getLogger(__name__)

FEATURES_VERSION = "3"   # bump when the feature layout changes: old cache entries are ignored
IGNORE_INDEX = -100      # label id the loss skips (prompt and padding)


@dataclass(frozen=True)
class FeatureSpec:
    """Everything besides the data and tokenizer that changes the token ids."""

    decoder_only: bool
    input_prefix: str
    separator: str
    max_source_length: int
    max_target_length: int
    source_bos: bool = False     # start each source with the tokenizer's bos (when it has one)
    source_eos: bool = True      # end each source with eos (T5's tokenizer adds it itself, KoBART's does not)

    @classmethod
    def from_model_config(cls, model_cfg: Any, decoder_only: bool) -> "FeatureSpec":
        """The spec a model config implies (training, prediction and benchmarks must agree on it)."""
        return cls(decoder_only=decoder_only, input_prefix=model_cfg.input_prefix,
                   separator=model_cfg.get("separator", ""), max_source_length=int(model_cfg.max_source_length),
                   max_target_length=int(model_cfg.max_target_length),
                   source_bos=bool(model_cfg.get("source_bos", False)), source_eos=bool(model_cfg.get("source_eos", True)))

    def key(self) -> str:
        """Stable text form for the cache key."""
        return json.dumps(self.__dict__, sort_keys=True, ensure_ascii=False)


class ListDataset(torch.utils.data.Dataset):
    """Features as a plain list of dicts (HF Trainer takes any map-style dataset)."""

    def __init__(self, rows: list[dict[str, list[int]]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: int) -> dict[str, list[int]]:
        return self.rows[idx]


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of the tokenizer definition (vocab, merges, added tokens, pre/post-processing).

    Truncation/padding are left out: calling the tokenizer stores them in the backend state, which
    would otherwise change the key after the first use (measured: every later run missed the cache)."""
    if getattr(tokenizer, "is_fast", False):
        state = json.loads(tokenizer.backend_tokenizer.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        text = json.dumps(state, sort_keys=True, ensure_ascii=False)
    else:
        text = repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_features(frame: pd.DataFrame, tokenizer: Any, spec: FeatureSpec, cache_dir: Path,
                    with_labels: bool) -> list[dict[str, list[int]]]:
    """Load features from the cache, or tokenize and store them."""
    path = cache_dir / "features" / f"{_cache_key(frame, tokenizer, spec, with_labels)}.npz"
    if path.is_file():
        try:
            return _load_rows(path)
        except Exception as err:  # a corrupt entry is rebuilt, never fatal
            log.warning("ignoring unreadable feature cache %s (%s)", path, err)
    rows = tokenize_frame(frame, tokenizer, spec, with_labels)
    _save_rows(path, rows)
    return rows


def _save_rows(path: Path, rows: list[dict[str, list[int]]]) -> None:
    """Each field as one flat int32 array + row offsets: loads in milliseconds (pickled lists did not)."""
    arrays: dict[str, np.ndarray] = {}
    for field in rows[0] if rows else ():
        seqs = [r[field] for r in rows]
        arrays[f"{field}.flat"] = np.fromiter((t for seq in seqs for t in seq), dtype=np.int32)
        arrays[f"{field}.offsets"] = np.cumsum([0] + [len(seq) for seq in seqs], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def _load_rows(path: Path) -> list[dict[str, list[int]]]:
    """Rows back as lists of ints, as the tokenizer produced them."""
    with np.load(path) as data:
        fields = sorted({name.rsplit(".", 1)[0] for name in data.files})
        columns = {}
        for field in fields:
            flat, offsets = data[f"{field}.flat"].tolist(), data[f"{field}.offsets"].tolist()
            columns[field] = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    n_rows = len(next(iter(columns.values()))) if columns else 0
    return [{field: columns[field][i] for field in fields} for i in range(n_rows)]


def _cache_key(frame: pd.DataFrame, tokenizer: Any, spec: FeatureSpec, with_labels: bool) -> str:
    """(data content, tokenizer and the special ids framing each row, lengths, prefix, layout) -> hex key."""
    digest = hashlib.sha256()
    cols = [c for c in ("dialogue", "summary") if c in frame.columns and (with_labels or c == "dialogue")]
    specials = f"{tokenizer.bos_token_id},{tokenizer.eos_token_id}"  # set by config, not in the fingerprint
    for part in (FEATURES_VERSION, spec.key(), tokenizer_fingerprint(tokenizer), specials, str(with_labels)):
        digest.update(part.encode("utf-8") + b"\0")
    for col in cols:
        for text in frame[col]:
            digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:24]


def tokenize_frame(frame: pd.DataFrame, tokenizer: Any, spec: FeatureSpec,
                   with_labels: bool) -> list[dict[str, list[int]]]:
    """Encoder-decoder: source/labels. Decoder-only: prompt (+ summary with prompt-masked labels)."""
    sources = [spec.input_prefix + d for d in frame["dialogue"]]
    if spec.decoder_only:
        return _decoder_only(sources, list(frame["summary"]) if with_labels else None, tokenizer, spec)
    enc = _framed(tokenizer, sources, spec.max_source_length, spec.source_bos, spec.source_eos)
    if not with_labels:
        return [{"input_ids": ids} for ids in enc]
    labels = _framed(tokenizer, list(frame["summary"]), spec.max_target_length, False, True)
    return [{"input_ids": s, "labels": t} for s, t in zip(enc, labels)]


def _framed(tokenizer: Any, texts: list[str], max_length: int, bos: bool, eos: bool) -> list[list[int]]:
    """Ids framed by bos/eos from the tokenizer's own special tokens, whatever its post-processor adds.

    KoBART's tokenizer adds nothing (post_processor null) and T5's appends </s>: labels without eos teach a
    model never to stop, so the frame is built here, identically for every tokenizer."""
    head = [tokenizer.bos_token_id] if bos and tokenizer.bos_token_id is not None else []
    tail = [tokenizer.eos_token_id] if eos else []
    budget = max_length - len(head) - len(tail)
    ids = tokenizer(texts, add_special_tokens=False, max_length=budget, truncation=True)["input_ids"]
    return [head + seq + tail for seq in ids]


def _decoder_only(sources: list[str], summaries: list[str] | None, tokenizer: Any,
                  spec: FeatureSpec) -> list[dict[str, list[int]]]:
    """Prompt = <s> dialogue separator; target = summary </s>; loss only on the target."""
    sep = tokenizer(spec.separator, add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if spec.source_bos and tokenizer.bos_token_id is not None else []
    budget = spec.max_source_length - len(sep) - len(bos)
    dialogues = tokenizer(sources, add_special_tokens=False)["input_ids"]
    prompts = [bos + d[:budget] + sep for d in dialogues]
    if summaries is None:
        return [{"input_ids": p} for p in prompts]
    targets = tokenizer(summaries, add_special_tokens=False)["input_ids"]
    rows = []
    for prompt, target in zip(prompts, targets):
        target = target[: spec.max_target_length - 1] + [tokenizer.eos_token_id]
        rows.append({"input_ids": prompt + target, "labels": [IGNORE_INDEX] * len(prompt) + target})
    return rows
