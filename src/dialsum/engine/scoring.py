"""Score generated summaries: Korean ROUGE, length, repetition, and the configurable composite."""
from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import DictConfig

from dialsum.data.tags import SPEAKER_PREFIX
from dialsum.metrics.rouge import KoreanRouge, MorphemeTokenizer

# Repetition = share of morpheme 4-grams (Kiwi, as ROUGE) that repeat an earlier one in the summary. Word n-grams
# miss a sentencepiece model's loop inside one word (`#Person1#은은은은…` is one word); 4 morphemes, not 3,
# because endings are morphemes too: the 399 DialogSum-ko dev references read 0.0013 (3-grams 0.004).
REPEAT_NGRAM = 4


def repetition_rate(tokens: list[str]) -> float:
    """Repetitive, empty-of-meaning summaries score well on loss alone; this makes them visible."""
    grams = [tuple(tokens[i:i + REPEAT_NGRAM]) for i in range(len(tokens) - REPEAT_NGRAM + 1)]
    return 0.0 if not grams else 1.0 - len(set(grams)) / len(grams)


def first_utterance(dialogue: str) -> str:
    """The trivial baseline summary: the first turn without its speaker tag."""
    first = dialogue.strip().split("\n", 1)[0]
    return SPEAKER_PREFIX.sub("", first)


class SummaryScorer:
    """Holds the ROUGE scorer (its analyzer is built once per process) and the composite weights."""

    def __init__(self, metric_cfg: DictConfig):
        self.rouge = KoreanRouge(tokenizer=metric_cfg.tokenizer)
        self.morphemes = MorphemeTokenizer()  # repetition is counted in morphemes whatever ROUGE's tokenizer
        self.weights = metric_cfg.composite

    def score(self, predictions: list[str], references: list[str], gen_lengths: list[int]
              ) -> tuple[dict[str, float], list[dict[str, float]]]:
        """Corpus metrics (unprefixed names, e.g. rouge1_f1) and per-example ROUGE."""
        tokens: dict[str, list[str]] = {}
        corpus, per_example = self.rouge.score_corpus(predictions, references, tokens)
        metrics: dict[str, Any] = {k: float(v) for k, v in corpus.items()}
        metrics["gen_len"] = float(np.mean(gen_lengths)) if gen_lengths else 0.0
        rates = [repetition_rate(t) for t in self._morphemes_of(predictions, tokens)]
        metrics["repetition_rate"] = float(np.mean(rates)) if rates else 0.0
        w = self.weights
        metrics["composite"] = (w.rouge1 * metrics["rouge1_f1"] + w.rouge2 * metrics["rouge2_f1"]
                                + w.rougeL * metrics["rougeL_f1"] - w.repetition_penalty * metrics["repetition_rate"])
        return metrics, per_example

    def _morphemes_of(self, texts: list[str], rouge_tokens: dict[str, list[str]]) -> list[list[str]]:
        """Kiwi morphemes; with morpheme ROUGE, the ones its scoring just computed (no second pass)."""
        if self.rouge.tokenizer_name == "morpheme":
            return [rouge_tokens[t] if t in rouge_tokens else self.morphemes.tokenize(t) for t in texts]
        return self.morphemes.tokenize_many(texts)

    def baseline(self, dialogues: list[str], references: list[str]) -> dict[str, float]:
        """First-utterance baseline: a trained model must beat it by far, or it is not reading."""
        preds = [first_utterance(d) for d in dialogues]
        metrics, _ = self.score(preds, references, [len(p.split()) for p in preds])
        return metrics
