"""Text normalisation for dialogues and summaries, at three strengths, never touching #...# tags.

- ``none``: the text is returned unchanged.
- ``light``: curly, full-width and corner/angle quotes (``“”「」『』«»`` -> ``"``, ``‘’‹›`` -> ``'``); CRLF/CR
  (and vertical tabs, Office's line break in a cell) become LF; zero-width spaces, stray BOMs and control
  characters (NUL, ...) are removed; runs of horizontal whitespace (spaces, tabs, no-break, thin, narrow and
  ideographic spaces) become one space; spaces around line breaks are removed, blank lines dropped and the ends
  stripped. The ``\\n`` between turns stays.
- ``medium``: ``light`` plus NFKC on non-Hangul text only (full-width ``ＡＢＣ１２３！`` -> ``ABC123!``)
  and runs of one character repeated 3+ times cut to 2 (``ㅋㅋㅋㅋ`` -> ``ㅋㅋ``, ``!!!!`` -> ``!!``).

Why Hangul is excluded from NFKC: NFKC keeps precomposed syllables (가-힣) intact, but it maps
compatibility jamo such as ``ㅋ`` (U+314B) to conjoining jamo (U+110F), which renders and tokenises
differently, so every Hangul run is left exactly as written.

Exceptions to repeat-cutting: digits (``1000원`` and ``010-1111-2222`` must survive), Latin letters (``www``,
and ``Ⅲ``, which NFKC makes ``III``: cutting would make chapter 3 chapter 2), whitespace
(handled by ``light``) and dots: ``...`` is the ellipsis (NFKC also turns ``…`` into it), so dot
runs of 4+ are cut to ``...`` rather than ``..``.

Tags: ``#Word#`` / ``#Word123#`` (letters first, then letters/digits/underscores), such as
``#Person1#`` or ``#PhoneNumber#``, are split out and never changed. A run of ``#`` that is not a
tag (``###`` or ``####``) is ordinary text, so ``medium`` cuts it to ``##`` like any other repeat.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable

from dialsum.data.tags import TAG

LEVELS = ("none", "light", "medium")

TAG_RE = re.compile(f"({TAG})")  # split keeps the tags
_QUOTES = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\uff02": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\uff07": "'",
    "\u300c": '"', "\u300d": '"', "\u300e": '"', "\u300f": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2039": "'", "\u203a": "'", "\u200b": None, "\ufeff": None,
})
_NEWLINES_RE = re.compile(r"\r\n?|[\x0b\x0c]")  # vertical tab: Office's line break inside a cell
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # NUL and other C0 controls (tab, newline kept)
_HSPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_SPACE_AROUND_NEWLINE_RE = re.compile(r" ?\n[ \n]*")  # also blank lines between turns
MAX_REPEAT = 2
_REPEAT_RE = re.compile(r"([^\d\sA-Za-z.])\1{%d,}" % MAX_REPEAT)
ELLIPSIS = "..."
_DOTS_RE = re.compile(r"\.{%d,}" % (len(ELLIPSIS) + 1))
# Hangul syllables, jamo, compatibility jamo, extended jamo and half-width Hangul.
_HANGUL_RUN_RE = re.compile(
    r"([\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff\uffa0-\uffdc]+)"
)


def normalize_text(text: str, level: str) -> str:
    """Normalise a dialogue or summary at the given level, keeping #...# tags byte-for-byte."""
    if level not in LEVELS:
        raise ValueError(f"unknown normalisation level {level!r}; valid levels: {', '.join(LEVELS)}")
    if level == "none":
        return text
    if level == "medium":
        text = _map_outside_tags(text, _medium_segment)
    return _light(text)


def _map_outside_tags(text: str, func: Callable[[str], str]) -> str:
    """Apply func to the text between tags only (odd split indices are the tags themselves)."""
    parts = TAG_RE.split(text)
    return "".join(part if i % 2 else func(part) for i, part in enumerate(parts))


def _light(text: str) -> str:
    """Quotes, line endings and whitespace; tags hold neither quotes nor spaces, so they are safe."""
    text = text.translate(_QUOTES)
    text = _CONTROL_RE.sub("", _NEWLINES_RE.sub("\n", text))
    text = _HSPACE_RE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE_RE.sub("\n", text)
    return text.strip()


def _medium_segment(segment: str) -> str:
    """Full-width to ASCII outside Hangul, then cut long character repeats."""
    segment = _nfkc_outside_hangul(segment)
    segment = _DOTS_RE.sub(ELLIPSIS, segment)
    return _REPEAT_RE.sub(lambda m: m.group(1) * MAX_REPEAT, segment)


def _nfkc_outside_hangul(segment: str) -> str:
    """NFKC on non-Hangul runs only, so compatibility jamo (ㅋ, ㅠ) are never rewritten."""
    parts = _HANGUL_RUN_RE.split(segment)
    return "".join(part if i % 2 else unicodedata.normalize("NFKC", part) for i, part in enumerate(parts))
