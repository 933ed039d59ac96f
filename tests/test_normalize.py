"""normalize_text: each level on Korean dialogue text, with #...# tags and Hangul left intact."""
from __future__ import annotations

import unicodedata

import pytest

from dialsum.data.normalize import LEVELS, normalize_text
from dialsum.data.synthetic import generate_examples

DIALOGUE = "#Person1#:  “안녕”\t\t하세요!!!!  \n  #Person2#: ‘네’ ㅋㅋㅋㅋ  반가워요 "
HANGUL = "ㅋㅋ ㅠㅠ ㄱㄴㄷ 가나다 힣 똠방각하 ᄀᄂ 안녕하세요"  # compatibility + conjoining jamo


def test_none_returns_the_text_unchanged() -> None:
    assert normalize_text(DIALOGUE, "none") is DIALOGUE


def test_light_unifies_quotes_and_whitespace_but_keeps_turn_breaks() -> None:
    assert normalize_text(DIALOGUE, "light") == (
        '#Person1#: "안녕" 하세요!!!!\n#Person2#: \'네\' ㅋㅋㅋㅋ 반가워요'
    )


@pytest.mark.parametrize(("text", "expected"), [
    ("„인용“ ‟이것도” ＂전각＂", '"인용" "이것도" "전각"'),
    ("‚작은‘ ‛따옴표’", "'작은' '따옴표'"),
    ("가\r\n나\r다", "가\n나\n다"),
    ("\u3000전각\u00a0공백  ", "전각 공백"),
    ("#Person1#: 네\n\n \n#Person2#: 응", "#Person1#: 네\n#Person2#: 응"),  # blank lines between turns
    ("얇은\u2009공백\u202f좁은\u200b폭없는\ufeff", "얇은 공백 좁은폭없는"),
    ("「책」 『제목』 «인용» ‹작은›", '"책" "제목" "인용" \'작은\''),
])
def test_light_cases(text: str, expected: str) -> None:
    assert normalize_text(text, "light") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("#Person1#:  안녕!!!!", "#Person1#: 안녕!!"),
    ("ㅋㅋㅋㅋㅋ 웃겨", "ㅋㅋ 웃겨"),
    ("아아아아 진짜?????", "아아 진짜??"),
    ("ＡＢＣ１２３！", "ABC123!"),
    ("가격은 1000원, 번호는 010-1111-2222", "가격은 1000원, 번호는 010-1111-2222"),
    ("글쎄… 그래.....", "글쎄... 그래..."),
    ("#### 제목 ###", "## 제목 ##"),
    ("ㅋ ㅋㅋ", "ㅋ ㅋㅋ"),
    ("www.naver.com 에서", "www.naver.com 에서"),  # Latin letters are never cut
    ("제Ⅲ장", "제III장"),                           # NFKC's III stays three
])
def test_medium_cases(text: str, expected: str) -> None:
    assert normalize_text(text, "medium") == expected


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("tag", ["#Person1#", "#Person2#", "#PhoneNumber#", "#Address#", "#Email#",
                                 "#DateOfBirth#", "#Zzzz#", "#Aaa_111#"])
def test_tags_are_never_altered(level: str, tag: str) -> None:
    out = normalize_text(f"{tag}:  안녕!!!! {tag}로 ㅋㅋㅋ{tag}", level)
    assert out.count(tag) == 3


def test_medium_leaves_hangul_and_jamo_byte_identical() -> None:
    assert unicodedata.normalize("NFKC", "ㅋ") != "ㅋ"  # so the exclusion matters
    assert normalize_text(HANGUL, "medium") == HANGUL


def test_medium_is_idempotent() -> None:
    once = normalize_text(DIALOGUE + " ＡＢＣ!!!!! ####", "medium")
    assert normalize_text(once, "medium") == once


@pytest.mark.parametrize("level", LEVELS)
def test_clean_synthetic_data_passes_through_unchanged(level: str) -> None:
    for row in generate_examples(40, 9):
        assert normalize_text(row["dialogue"], level) == row["dialogue"]
        assert normalize_text(row["summary"], level) == row["summary"]


def test_unknown_level_lists_valid_levels() -> None:
    with pytest.raises(ValueError, match="'heavy'.*none, light, medium"):
        normalize_text("안녕", "heavy")
