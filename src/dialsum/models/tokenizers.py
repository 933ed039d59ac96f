"""Tokenizers: trained from scratch with `tokenizers` (cached), or loaded; tags always kept whole."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Iterable

from transformers import AddedToken, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from dialsum.data.tags import TAG_PATTERN
from dialsum.errors import DialsumError
from dialsum.tracking.atomic import write_text

log = logging.getLogger(__name__)

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
# Tags of DialogSum-ko: speakers and masked personal data. Tags found in the data are added too.
KNOWN_TAGS = tuple(f"#Person{i}#" for i in range(1, 8)) + (
    "#PhoneNumber#", "#Address#", "#DateOfBirth#", "#Email#", "#PassportNumber#",
    "#CarNumber#", "#CardNumber#", "#SSN#",
)


def find_tags(texts: Iterable[str]) -> list[str]:
    """All `#...#` tags: the known ones plus any the data uses, in a stable order."""
    found = {m for text in texts for m in TAG_PATTERN.findall(text)}
    return list(KNOWN_TAGS) + sorted(found - set(KNOWN_TAGS))


def add_tags(tokenizer: PreTrainedTokenizerBase, tags: list[str]) -> int:
    """Tags as non-special added tokens: one id each, and they survive skip_special_tokens decoding."""
    keep_tag_spacing(tokenizer)
    return tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in tags])


def keep_tag_spacing(tokenizer: PreTrainedTokenizerBase) -> None:
    """`#Person1#은` must decode as written, not as `#Person1# 은`.

    Sentencepiece-style tokenizers (KoBART, KoGPT2, T5: Metaspace, prepend_scheme "always") put a word
    boundary `▁` at the start of every piece of text between added tokens, so `#Person1#은` and
    `#Person1# 은` encode alike and decode with the space; T5's extra WhitespaceSplit also drops the space
    before a tag. Metaspace with prepend_scheme "first" marks only the text's own start and its real spaces:
    text without tags gets exactly the same ids (checked on DialogSum-ko dev for all three tokenizers)."""
    if not getattr(tokenizer, "is_fast", False):
        return
    from tokenizers import pre_tokenizers

    state = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    parts = state.get("pretokenizers", [state]) if state.get("type") == "Sequence" else [state]
    meta = [p for p in parts if p.get("type") == "Metaspace"]
    if not meta or any(p.get("type") not in ("Metaspace", "WhitespaceSplit") for p in parts):
        return  # byte-level BPE (scratch bpe) already keeps spaces exactly
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=meta[0].get("replacement", "▁"), prepend_scheme="first", split=meta[0].get("split", True))


def train_scratch_tokenizer(texts: list[str], kind: str, vocab_size: int, cache_dir: Path,
                            encoder_decoder: bool) -> PreTrainedTokenizerFast:
    """Train (or reuse from the cache) a tokenizer on the training split."""
    tags = find_tags(texts)
    digest = hashlib.sha256()
    for part in (kind, str(vocab_size), str(encoder_decoder), *tags, *texts):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    path = cache_dir / "tokenizers" / f"{kind}-{digest.hexdigest()[:16]}.json"
    if not path.is_file():
        backend = _train_backend(texts, kind, vocab_size, encoder_decoder)
        write_text(path, backend.to_str())  # workers racing: last rename wins
        log.info("trained a %s tokenizer (vocab %d) on %d texts -> %s", kind, vocab_size, len(texts), path)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), pad_token=PAD, bos_token=BOS,
                                        eos_token=EOS, unk_token=UNK)
    add_tags(tokenizer, tags)
    return tokenizer


def _train_backend(texts: list[str], kind: str, vocab_size: int, encoder_decoder: bool):
    """Byte-level BPE (BART/GPT-2 style) or Unigram with Metaspace (T5 style)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    specials = [PAD, BOS, EOS, UNK]
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Replace("\n", " ")  # else every newline becomes <unk>
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token=UNK,
                                          show_progress=False)
    else:
        raise DialsumError(f"model.scratch.tokenizer={kind!r} is unknown; use 'bpe' or 'unigram'.")
    tok.train_from_iterator(_without_tags(texts), trainer=trainer)
    if encoder_decoder:  # sequences end with </s>, like the real checkpoints
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", special_tokens=[(EOS, tok.token_to_id(EOS))])
    return tok


def _without_tags(texts: list[str]) -> Iterable[str]:
    """Tags become single added tokens, so the subword vocabulary need not learn them."""
    for text in texts:
        yield TAG_PATTERN.sub(" ", text)
