"""Korean-aware ROUGE: hand-computed expectations on Korean text (see each comment)."""

from __future__ import annotations

import threading
import time

import pytest
from rouge_score import rouge_scorer

from dialsum.metrics.rouge import (
    COMBINED_KEY,
    KoreanRouge,
    MorphemeTokenizer,
    WhitespaceTokenizer,
    build_tokenizer,
    get_kiwi,
)

KEYS = ("rouge1_f1", "rouge2_f1", "rougeL_f1")

HOKINS_REF = "호킨스 의사는 매년 건강검진을 받는 것을 권장합니다."
HOKINS_PRED = "호킨스 의사는 건강검진을 매년 받으라고 권장합니다."


@pytest.fixture(scope="module")
def morpheme_rouge() -> KoreanRouge:
    """One morpheme scorer for the module: Kiwi is built (and warmed) once."""
    return KoreanRouge(tokenizer="morpheme")


@pytest.fixture(scope="module")
def whitespace_rouge() -> KoreanRouge:
    return KoreanRouge(tokenizer="whitespace")


@pytest.fixture(scope="module")
def morpheme_tokenizer(morpheme_rouge: KoreanRouge) -> MorphemeTokenizer:
    return MorphemeTokenizer()


def _combined(*f1s: float) -> float:
    return sum(f1s) / len(f1s)


# --- tokenizers -------------------------------------------------------------------------


def test_tags_stay_whole(morpheme_tokenizer: MorphemeTokenizer) -> None:
    tokens = morpheme_tokenizer.tokenize("#Person1#과 #Person2#는")
    assert "#Person1#" in tokens and "#Person2#" in tokens
    assert tokens == ["#Person1#", "과", "#Person2#", "는"]


def test_morpheme_split_verified(morpheme_tokenizer: MorphemeTokenizer) -> None:
    # The split the hand computations below rely on. Note that kiwipiepy 0.24 splits
    # "합니다" into "하" + "ᆸ니다" (jongseong jamo), and the final "." (tag SF) is dropped.
    assert morpheme_tokenizer.tokenize(HOKINS_REF) == [
        "호킨스", "의사", "는", "매년", "건강", "검진", "을", "받", "는", "것", "을",
        "권장", "하", "ᆸ니다",
    ]  # fmt: skip
    assert morpheme_tokenizer.tokenize(HOKINS_PRED) == [
        "호킨스", "의사", "는", "건강", "검진", "을", "매년", "받", "으라고",
        "권장", "하", "ᆸ니다",
    ]  # fmt: skip


def test_morpheme_drops_punctuation_keeps_symbols_lowercases(
    morpheme_tokenizer: MorphemeTokenizer,
) -> None:
    tokens = morpheme_tokenizer.tokenize('"UFO"를 봤다—정말! (진짜) 50% #PhoneNumber#로.')
    assert tokens == ["ufo", "를", "보", "었", "다", "정말", "진짜", "50", "%", "#PhoneNumber#", "로"]
    assert morpheme_tokenizer.tokenize(". , ! ? … ~ ( ) “ ”") == []


def test_morpheme_batch_equals_single(morpheme_tokenizer: MorphemeTokenizer) -> None:
    texts = [HOKINS_REF, "", "   ", "#Person1#과 #Person2#는 3시에 만나요."]
    assert morpheme_tokenizer.tokenize_many(texts) == [morpheme_tokenizer.tokenize(t) for t in texts]


def test_kiwi_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A slow fake Kiwi makes concurrent first calls overlap; the lock must build it once.
    import kiwipiepy

    import dialsum.metrics.rouge as rouge_module

    built: list[object] = []

    class SlowKiwi:
        def __init__(self) -> None:
            time.sleep(0.05)
            built.append(self)

        def tokenize(self, text: str, pretokenized: object = None) -> list[object]:
            return []

    monkeypatch.setattr(rouge_module, "_kiwi", None)
    monkeypatch.setattr(kiwipiepy, "Kiwi", SlowKiwi)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(get_kiwi())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert len(results) == 4 and all(k is built[0] for k in results)


def test_whitespace_tokenizer() -> None:
    tok = WhitespaceTokenizer()
    assert tok.tokenize(HOKINS_REF) == ["호킨스", "의사는", "매년", "건강검진을", "받는", "것을", "권장합니다"]
    # Edge punctuation goes, tags stay whole and keep their case, Latin is lowercased.
    assert tok.tokenize('"#Person1#은" UFO를, (진짜) #Person2#! .') == [
        "#Person1#은", "ufo를", "진짜", "#Person2#",
    ]  # fmt: skip


def test_build_tokenizer() -> None:
    assert isinstance(build_tokenizer("whitespace"), WhitespaceTokenizer)
    assert isinstance(build_tokenizer("morpheme"), MorphemeTokenizer)
    with pytest.raises(ValueError, match="morpheme.*whitespace"):
        build_tokenizer("mecab")
    with pytest.raises(ValueError, match="mecab"):
        KoreanRouge(tokenizer="mecab")


def test_unsupported_rouge_type() -> None:
    with pytest.raises(ValueError, match="rougeLsum"):
        KoreanRouge(tokenizer="whitespace", rouge_types=("rouge1", "rougeLsum"))


# --- scores -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["morpheme", "whitespace"])
def test_identical_scores_one(name: str, morpheme_rouge: KoreanRouge, whitespace_rouge: KoreanRouge) -> None:
    scorer = morpheme_rouge if name == "morpheme" else whitespace_rouge
    text = "#Person1#은 3시에 #Person2#에게 전화해서 건강검진 일정을 바꿉니다."
    scores = scorer.score(text, text)
    assert scores == {k: pytest.approx(1.0) for k in (*KEYS, COMBINED_KEY)}


def test_partial_overlap_whitespace(whitespace_rouge: KoreanRouge) -> None:
    # ref  (7): 호킨스 의사는 매년 건강검진을 받는 것을 권장합니다
    # pred (6): 호킨스 의사는 건강검진을 매년 받으라고 권장합니다
    # R1: common unigrams 호킨스 의사는 매년 건강검진을 권장합니다 = 5 -> F = 2*5/(7+6) = 10/13
    # R2: ref bigrams 6, pred bigrams 5, common only (호킨스 의사는) = 1 -> F = 2*1/(6+5) = 2/11
    # RL: LCS e.g. 호킨스 의사는 매년 권장합니다 = 4 -> F = 2*4/(7+6) = 8/13
    scores = whitespace_rouge.score(HOKINS_PRED, HOKINS_REF)
    assert scores["rouge1_f1"] == pytest.approx(10 / 13)
    assert scores["rouge2_f1"] == pytest.approx(2 / 11)
    assert scores["rougeL_f1"] == pytest.approx(8 / 13)
    assert scores[COMBINED_KEY] == pytest.approx(_combined(10 / 13, 2 / 11, 8 / 13))


def test_partial_overlap_morpheme(morpheme_rouge: KoreanRouge) -> None:
    # Split verified in test_morpheme_split_verified:
    # ref  (14): 호킨스 의사 는 매년 건강 검진 을 받 는 것 을 권장 하 ᆸ니다
    # pred (12): 호킨스 의사 는 건강 검진 을 매년 받 으라고 권장 하 ᆸ니다
    # R1: clipped common = 호킨스 의사 는(1) 매년 건강 검진 을(1) 받 권장 하 ᆸ니다 = 11
    #     -> F = 2*11/(14+12) = 11/13
    # R2: ref bigrams 13, pred bigrams 11; common: 호킨스-의사 의사-는 건강-검진 검진-을
    #     권장-하 하-ᆸ니다 = 6 -> F = 2*6/(13+11) = 1/2
    # RL: LCS 호킨스 의사 는 건강 검진 을 받 권장 하 ᆸ니다 = 10 -> F = 2*10/(14+12) = 10/13
    scores = morpheme_rouge.score(HOKINS_PRED, HOKINS_REF)
    assert scores["rouge1_f1"] == pytest.approx(11 / 13)
    assert scores["rouge2_f1"] == pytest.approx(1 / 2)
    assert scores["rougeL_f1"] == pytest.approx(10 / 13)
    assert scores[COMBINED_KEY] == pytest.approx(_combined(11 / 13, 1 / 2, 10 / 13))


def test_default_tokenizer_scores_hangul_zero() -> None:
    # Why this module exists: rouge-score's default tokenizer keeps only [a-z0-9].
    default = rouge_scorer.RougeScorer(["rouge1"]).score(HOKINS_REF, HOKINS_PRED)
    assert default["rouge1"].fmeasure == 0.0


def test_tags_and_digits_no_false_one(morpheme_rouge: KoreanRouge, whitespace_rouge: KoreanRouge) -> None:
    ref = "#Person1#은 3시에 #Person2#를 만났습니다."
    pred = "#Person1#은 3시에 #Person2#를 만나지 않았습니다."
    # rouge-score's default tokenizer sees only [person1, 3, person2] on both sides: a false 1.0.
    default = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]).score(ref, pred)
    assert all(default[t].fmeasure == pytest.approx(1.0) for t in ("rouge1", "rouge2", "rougeL"))
    # Morphemes: ref  (10) #Person1# 은 3 시 에 #Person2# 를 만나 었 습니다
    #            pred (12) #Person1# 은 3 시 에 #Person2# 를 만나 지 않 었 습니다
    # R1: all 10 ref tokens appear -> F = 2*10/(10+12) = 10/11
    # R2: ref 9 bigrams, pred 11; all but 만나-었 common = 8 -> F = 2*8/(9+11) = 4/5
    # RL: ref is a subsequence of pred, LCS = 10 -> F = 10/11
    scores = morpheme_rouge.score(pred, ref)
    assert scores["rouge1_f1"] == pytest.approx(10 / 11)
    assert scores["rouge2_f1"] == pytest.approx(4 / 5)
    assert scores["rougeL_f1"] == pytest.approx(10 / 11)
    assert whitespace_rouge.score(pred, ref)[COMBINED_KEY] < 1.0


def test_tags_and_digits_different_people_and_times(morpheme_rouge: KoreanRouge) -> None:
    ref = "#Person1#은 3시에 출발합니다."
    pred = "#Person2#는 5시에 출발합니다."
    # Default tokenizer: [person1, 3] vs [person2, 5] -> 0.0, although the sentences share
    # most of their content.
    default = rouge_scorer.RougeScorer(["rouge1"]).score(ref, pred)
    assert default["rouge1"].fmeasure == 0.0
    # Morphemes: ref  (8) #Person1# 은 3 시 에 출발 하 ᆸ니다
    #            pred (8) #Person2# 는 5 시 에 출발 하 ᆸ니다
    # R1: common 시 에 출발 하 ᆸ니다 = 5 -> F = 2*5/16 = 5/8
    # R2: 7 bigrams each; common 시-에 에-출발 출발-하 하-ᆸ니다 = 4 -> F = 2*4/14 = 4/7
    # RL: 시 에 출발 하 ᆸ니다 = 5 -> F = 5/8
    scores = morpheme_rouge.score(pred, ref)
    assert scores["rouge1_f1"] == pytest.approx(5 / 8)
    assert scores["rouge2_f1"] == pytest.approx(4 / 7)
    assert scores["rougeL_f1"] == pytest.approx(5 / 8)


def test_multi_reference_max_per_metric(whitespace_rouge: KoreanRouge, morpheme_rouge: KoreanRouge) -> None:
    pred = "사과 배 포도 감"
    ref_a = "감 포도 배 사과"  # same words, reversed order
    ref_b = "사과 배 귤 밤 잣 대추"
    # vs ref_a: R1 4 common -> 1.0; R2 bigrams (감 포도)(포도 배)(배 사과) none common -> 0;
    #           RL LCS 1 -> 2*1/(4+4) = 0.25
    # vs ref_b: R1 사과 배 = 2 -> 2*2/(4+6) = 0.4; R2 (사과 배) 1 of 3 pred / 5 ref bigrams
    #           -> 2*1/(3+5) = 0.25; RL 사과 배 = 2 -> 0.4
    # max per metric: R1 1.0 (from a), R2 0.25 (from b), RL 0.4 (from b)
    scores = whitespace_rouge.score(pred, [ref_a, ref_b])
    assert scores["rouge1_f1"] == pytest.approx(1.0)
    assert scores["rouge2_f1"] == pytest.approx(0.25)
    assert scores["rougeL_f1"] == pytest.approx(0.4)
    assert scores[COMBINED_KEY] == pytest.approx(_combined(1.0, 0.25, 0.4))
    # The same holds with morphemes: the result is the per-metric max of the single scores.
    single = [morpheme_rouge.score(HOKINS_PRED, r) for r in (HOKINS_REF, HOKINS_PRED + " 감사합니다")]
    multi = morpheme_rouge.score(HOKINS_PRED, [HOKINS_REF, HOKINS_PRED + " 감사합니다"])
    for k in KEYS:
        assert multi[k] == pytest.approx(max(s[k] for s in single))


@pytest.mark.parametrize("name", ["morpheme", "whitespace"])
@pytest.mark.parametrize("prediction", ["", "   ", "."])
def test_empty_prediction_scores_zero(
    name: str, prediction: str, morpheme_rouge: KoreanRouge, whitespace_rouge: KoreanRouge
) -> None:
    scorer = morpheme_rouge if name == "morpheme" else whitespace_rouge
    assert scorer.score(prediction, HOKINS_REF) == {k: 0.0 for k in (*KEYS, COMBINED_KEY)}
    assert scorer.score(HOKINS_REF, "") == {k: 0.0 for k in (*KEYS, COMBINED_KEY)}


def test_no_reference_rejected(whitespace_rouge: KoreanRouge) -> None:
    with pytest.raises(ValueError, match="reference"):
        whitespace_rouge.score("사과", [])


def test_score_corpus(morpheme_rouge: KoreanRouge) -> None:
    preds = [HOKINS_PRED, "", "#Person2#는 5시에 출발합니다.", HOKINS_REF]
    refs: list[str | list[str]] = [
        HOKINS_REF,
        HOKINS_REF,
        ["#Person1#은 3시에 출발합니다.", "#Person2#는 5시에 도착합니다."],
        HOKINS_REF,
    ]
    means, per_example = morpheme_rouge.score_corpus(preds, refs)
    assert len(per_example) == len(preds)
    for p, r, s in zip(preds, refs, per_example):
        assert s == pytest.approx(morpheme_rouge.score(p, r))
    assert per_example[1] == {k: 0.0 for k in (*KEYS, COMBINED_KEY)}
    assert per_example[3][COMBINED_KEY] == pytest.approx(1.0)
    for k in (*KEYS, COMBINED_KEY):
        assert means[k] == pytest.approx(sum(s[k] for s in per_example) / len(per_example))
        assert 0.0 <= means[k] <= 1.0


def test_score_corpus_length_mismatch(morpheme_rouge: KoreanRouge) -> None:
    with pytest.raises(ValueError, match="length"):
        morpheme_rouge.score_corpus(["a", "b"], ["a"])


def test_score_corpus_empty(whitespace_rouge: KoreanRouge) -> None:
    means, per_example = whitespace_rouge.score_corpus([], [])
    assert means == {k: 0.0 for k in (*KEYS, COMBINED_KEY)}
    assert per_example == []


def test_custom_rouge_types(whitespace_rouge: KoreanRouge) -> None:
    scorer = KoreanRouge(tokenizer="whitespace", rouge_types=("rouge1",))
    scores = scorer.score(HOKINS_PRED, HOKINS_REF)
    assert set(scores) == {"rouge1_f1", COMBINED_KEY}
    assert scores[COMBINED_KEY] == pytest.approx(10 / 13)


@pytest.mark.parametrize("tokenizer", ["morpheme", "whitespace"])
def test_repetition_rate_sees_a_loop_inside_one_word(tokenizer: str) -> None:
    """A sentencepiece model's typical failure (`#Person1#은은은…`) is one whitespace word: it must still count,
    while a natural summary that repeats its speakers' tags does not."""
    from conftest import compose_cfg
    from dialsum.engine.scoring import SummaryScorer

    scorer = SummaryScorer(compose_cfg([f"metric.tokenizer={tokenizer}"]).metric)
    loop, natural = "#Person1#은은은은은은은은은은은은", "#Person1#은 집에 갑니다. #Person2#는 회사에 갑니다."
    metrics, _ = scorer.score([loop], [natural], [12])
    assert metrics["repetition_rate"] > 0.7
    metrics, _ = scorer.score([natural, ""], [natural, natural], [12, 0])
    assert metrics["repetition_rate"] == 0.0


def test_a_tag_with_an_underscore_is_one_token_for_normalisation_tokenizer_and_rouge() -> None:
    """`#Card_Number#`: every part of the pipeline must agree on what a tag is."""
    from dialsum.data.normalize import normalize_text
    from dialsum.data.tags import TAG_PATTERN
    from dialsum.metrics.rouge import MorphemeTokenizer
    from dialsum.models.tokenizers import find_tags

    text = "#Person1#: 제 #Card_Number#은 여기 있어요."
    assert TAG_PATTERN.findall(text) == ["#Person1#", "#Card_Number#"]
    assert "#Card_Number#" in normalize_text(text, "medium")
    assert "#Card_Number#" in find_tags([text])
    assert "#card_number#" not in MorphemeTokenizer().tokenize("#Card_Number#은 여기")  # kept whole, case too
    assert "#Card_Number#" in MorphemeTokenizer().tokenize("#Card_Number#은 여기")
