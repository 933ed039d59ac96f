"""Korean text formatting for the synthetic data: particles that agree with the word before them.

Hangul finality (vowel / ㄹ / other consonant, also for masked-PII tags, #PersonN#, digits and
Latin letters), ``attach_particle``, the ``fill`` template formatter with particle format specs,
``template_fields``, and ``format_won`` for won amounts.
"""
from __future__ import annotations

import re
import string

# --------------------------------------------------------------------------- particles

HANGUL_FIRST = 0xAC00
HANGUL_LAST = 0xD7A3
JONGSEONG_COUNT = 28
RIEUL_JONGSEONG = 8

FINAL_VOWEL = "vowel"
FINAL_RIEUL = "rieul"
FINAL_CONSONANT = "consonant"

# (form after a consonant, form after a vowel); 으로/로 also uses 로 after a ㄹ-final word.
_PARTICLE_FORMS = (
    ("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("이랑", "랑"),
    ("아", "야"), ("이야", "야"), ("이에요", "예요"), ("이면", "면"), ("이라서", "라서"),
    ("이었어", "였어"), ("이라던데", "라던데"), ("이나", "나"), ("이라고", "라고"), ("이지만", "지만"),
)
PARTICLE_PAIRS: dict[str, tuple[str, str]] = {
    **{f"{c}/{v}": (c, v) for c, v in _PARTICLE_FORMS},
    **{f"{v}/{c}": (c, v) for c, v in _PARTICLE_FORMS},
}
_RO_AFTER_RIEUL = "으로"

# DialogSum-ko reads #PersonN# in English: "one" (원) ends in a consonant, "two"/"three"/"four" in a
# vowel, so the data writes #Person1#은/이/과 but #Person2#는/가/와 and #Person3#가.
_ENGLISH_DIGIT_FINAL = {
    "0": FINAL_VOWEL, "1": FINAL_CONSONANT, "2": FINAL_VOWEL, "3": FINAL_VOWEL, "4": FINAL_VOWEL,
    "5": FINAL_VOWEL, "6": FINAL_VOWEL, "7": FINAL_CONSONANT, "8": FINAL_CONSONANT,
    "9": FINAL_CONSONANT,
}
# Masked-PII tags are read as their Korean word (전화번호, 주소, 이메일, 생년월일, 여권 번호 ...).
_TAG_FINAL = {
    "PhoneNumber": FINAL_VOWEL, "Address": FINAL_VOWEL, "Email": FINAL_RIEUL,
    "DateOfBirth": FINAL_RIEUL, "PassportNumber": FINAL_VOWEL, "CardNumber": FINAL_VOWEL,
    "CarNumber": FINAL_VOWEL, "SSN": FINAL_VOWEL,
}
# Plain numbers are read in Sino-Korean: 일(ㄹ) 이 삼 사 오 육 칠(ㄹ) 팔(ㄹ) 구; 0 ends 십/백/천/만/영.
_SINO_DIGIT_FINAL = {
    "0": FINAL_CONSONANT, "1": FINAL_RIEUL, "2": FINAL_VOWEL, "3": FINAL_CONSONANT,
    "4": FINAL_VOWEL, "5": FINAL_VOWEL, "6": FINAL_CONSONANT, "7": FINAL_RIEUL, "8": FINAL_RIEUL,
    "9": FINAL_VOWEL,
}
# Latin letters are read by their letter names (엘, 엠, 엔, 알 end in a consonant); an approximation.
_LATIN_FINAL = {"L": FINAL_RIEUL, "R": FINAL_RIEUL, "M": FINAL_CONSONANT, "N": FINAL_CONSONANT}
_TAG_AT_END = re.compile(r"#([A-Za-z]+)(\d*)#$")
_TRAILING_PUNCT = re.compile(r"[\s\"'()\[\].,!?~…]+$")


def _final_kind(word: str) -> str:
    """Classify how a word ends (vowel / ㄹ / other consonant) since particles depend on it."""
    word = _TRAILING_PUNCT.sub("", word)
    if not word:
        raise ValueError("cannot attach a particle to an empty word")
    tag = _TAG_AT_END.search(word)
    if tag:
        name, digits = tag.groups()
        if name == "Person" and digits:
            return _ENGLISH_DIGIT_FINAL[digits[-1]]
        return _TAG_FINAL.get(name, FINAL_VOWEL)
    last = word[-1]
    code = ord(last)
    if HANGUL_FIRST <= code <= HANGUL_LAST:
        jong = (code - HANGUL_FIRST) % JONGSEONG_COUNT
        if jong == 0:
            return FINAL_VOWEL
        return FINAL_RIEUL if jong == RIEUL_JONGSEONG else FINAL_CONSONANT
    if last.isdigit() and last in _SINO_DIGIT_FINAL:
        return _SINO_DIGIT_FINAL[last]
    if last.isascii() and last.isalpha():
        return _LATIN_FINAL.get(last.upper(), FINAL_VOWEL)
    return FINAL_VOWEL


def attach_particle(word: str, pair: str) -> str:
    """Append the right allomorph of a particle pair like "은/는", so templates read naturally."""
    try:
        consonant_form, vowel_form = PARTICLE_PAIRS[pair]
    except KeyError:
        raise ValueError(f"unknown particle pair {pair!r}; known: {sorted(PARTICLE_PAIRS)}") from None
    kind = _final_kind(word)
    if kind == FINAL_VOWEL or (kind == FINAL_RIEUL and consonant_form == _RO_AFTER_RIEUL):
        return word + vowel_form
    return word + consonant_form


class _KoreanFormatter(string.Formatter):
    """str.format where a field's format spec is a particle pair: "{place:으로/로}"."""

    def format_field(self, value: object, format_spec: str) -> str:
        """Attach the particle named by the spec (if any) to the field's value."""
        text = str(value)
        return attach_particle(text, format_spec) if format_spec else text


_FORMATTER = _KoreanFormatter()


def fill(template: str, facts: dict[str, str]) -> str:
    """Fill a template's named slots (with particles) from the facts of one example."""
    return _FORMATTER.vformat(template, (), facts)


def template_fields(template: str) -> tuple[str, ...]:
    """Slot names used by a template, in order, so tests and baselines can inspect them."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


# --------------------------------------------------------------------------- amounts

WON_PER_MAN = 10_000
WON_PER_CHEON = 1_000


def format_won(amount: int, spoken: bool = True) -> str:
    """Write a won amount as said ("3만 5천 원") or as printed ("35,000원")."""
    if not spoken:
        return f"{amount:,}원"
    man, rest = divmod(amount, WON_PER_MAN)
    cheon = rest // WON_PER_CHEON
    parts = ([f"{man}만"] if man else []) + ([f"{cheon}천"] if cheon else [])
    return " ".join(parts) + " 원"
