"""Benchmark Korean ROUGE: KoreanRouge(morpheme) vs plain RougeScorer tokenizing per call.

Why: scoring 1,000 Korean pairs must take < 1 s once the Kiwi analyzer is built, so that
evaluation inside training/sweeps stays cheap.

Usage: python benchmarks/bench_rouge.py [--pairs 1000] [--repeats 3] [--data PATH] [--smoke]
Exit status is 0 on PASS, 1 on FAIL (--smoke: 100 pairs, 1 repeat, only a score mismatch fails).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rouge_score import rouge_scorer

from dialsum.metrics.rouge import DEFAULT_ROUGE_TYPES, KoreanRouge, MorphemeTokenizer, get_kiwi

DEFAULT_DATA = Path("/work/shared/data/dialogsum_ko/dev.csv")
DEFAULT_PAIRS = 1000
DEFAULT_REPEATS = 3
TARGET_SECONDS = 1.0
SEED = 0
# Fallback generator: sentences of this many template clauses (~75 characters, like summaries).
CLAUSES_PER_SENTENCE = 3

_SUBJECTS = ["#Person1#은", "#Person2#는", "호킨스 의사는", "고객은", "매니저는", "친구는"]
_OBJECTS = ["건강검진을", "회의 일정을", "새 집을", "비행기 표를", "저녁 메뉴를", "휴가 계획을"]
_VERBS = ["권장합니다", "확인합니다", "예약합니다", "설명합니다", "바꾸기로 합니다", "취소합니다"]
_TIMES = ["3시에", "내일", "매년", "주말에", "다음 주에", "오후에"]


def load_summaries(path: Path) -> list[str]:
    """Reference summaries from dev.csv, or generated Korean sentences when it is missing."""
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as f:
            summaries = [row["summary"] for row in csv.DictReader(f) if row.get("summary")]
        if summaries:
            print(f"data: {len(summaries)} summaries from {path}")
            return summaries
    rng = random.Random(SEED)
    sentences = [
        " ".join(
            f"{rng.choice(_SUBJECTS)} {rng.choice(_TIMES)} {rng.choice(_OBJECTS)} {rng.choice(_VERBS)}"
            for _ in range(CLAUSES_PER_SENTENCE)
        )
        for _ in range(DEFAULT_PAIRS)
    ]
    print(f"data: {path} not found; generated {len(sentences)} Korean sentences")
    return sentences


def make_pairs(summaries: list[str], n_pairs: int) -> tuple[list[str], list[str]]:
    """(predictions, references): each summary paired with a shuffled other one and with itself."""
    rng = random.Random(SEED)
    shuffled = summaries[:]
    rng.shuffle(shuffled)
    pairs = [(s, o) for s, o in zip(summaries, shuffled)] + [(s, s) for s in summaries]
    rng.shuffle(pairs)
    pairs = [pairs[i % len(pairs)] for i in range(n_pairs)]
    return [p for p, _ in pairs], [r for _, r in pairs]


def make_distinct(texts: list[str], tag: str) -> list[str]:
    """Make every text unique (worst case for the per-call token cache) with a short suffix."""
    return [f"{t} ({tag} {i}번)" for i, t in enumerate(texts)]


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Minimum wall time of `repeats` runs of `fn` (the least noisy estimate)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline(preds: list[str], refs: list[str], scorer: rouge_scorer.RougeScorer) -> list[float]:
    """Plain rouge-score with the Kiwi tokenizer object: tokenizes both texts on every call."""
    return [
        statistics.fmean(s.fmeasure for s in scorer.score(r, p).values())
        for p, r in zip(preds, refs)
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print times, ratio and PASS/FAIL against the 1 s target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=DEFAULT_PAIRS)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--smoke", action="store_true", help="100 pairs, 1 repeat; the time target is not judged")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pairs, args.repeats = 100, 1

    start = time.perf_counter()
    get_kiwi()  # build + warm-up analysis (the first analysis loads the model lazily)
    build_s = time.perf_counter() - start
    print(f"Kiwi build + warm-up: {build_s:.2f} s (once per process, not counted below)")

    preds, refs = make_pairs(load_summaries(args.data), args.pairs)
    rouge = KoreanRouge(tokenizer="morpheme")
    plain = rouge_scorer.RougeScorer(list(DEFAULT_ROUGE_TYPES), tokenizer=MorphemeTokenizer())

    # Same numbers from both paths (sanity check before timing).
    _, ours = rouge.score_corpus(preds, refs)
    theirs = baseline(preds, refs, plain)
    max_diff = max(abs(o["rouge_combined_f1"] - t) for o, t in zip(ours, theirs))
    print(f"max |combined F1 difference| vs baseline: {max_diff:.2e}")

    ok = max_diff < 1e-9
    cases = {
        "dev pairs": (preds, refs),
        "all-distinct texts": (make_distinct(preds, "p"), make_distinct(refs, "r")),
    }
    for name, (p, r) in cases.items():
        n_texts = len(set(p) | set(r))
        ours_s = best_time(lambda: rouge.score_corpus(p, r), args.repeats)
        base_s = best_time(lambda: baseline(p, r, plain), args.repeats)
        verdict = "PASS" if ours_s < TARGET_SECONDS else "FAIL"
        ok = ok and verdict == "PASS"
        print(
            f"[{name}] {len(p)} pairs, {n_texts} distinct texts: "
            f"KoreanRouge {ours_s:.3f} s | baseline RougeScorer(tokenizer=kiwi) {base_s:.3f} s | "
            f"speed-up {base_s / ours_s:.1f}x | target < {TARGET_SECONDS:.1f} s: {verdict}"
        )
    if args.smoke:
        print(f"smoke run (sizes too small to judge): scores {'match' if max_diff < 1e-9 else 'DIFFER'}")
        return 0 if max_diff < 1e-9 else 1
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
