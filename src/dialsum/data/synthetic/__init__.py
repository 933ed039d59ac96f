"""Deterministic synthetic Korean dialogue-summarisation data: the offline default dataset.

Every example draws a topic, a dialogue variant and a set of FACTS (who, what, where, when, how
much). The dialogue opens with fact-free greetings, spreads the facts over later turns (some said
by different speakers), and mixes in small talk and distractors: a time proposed and then rejected,
a list price that is then discounted, a place mentioned in passing. The summary restates only the
agreed facts with the variant's DialogSum-ko-style template. The first utterance and the bare
template therefore score low; a model has to copy the right facts from the dialogue to score well.

Only ``random.Random(seed)`` instances are used (never the global generator), vocabularies are
tuples and nothing iterates over a set, so the output does not depend on PYTHONHASHSEED.

Modules, one job each:
    korean      Hangul finality, particles (attach_particle), the template formatter (fill,
                template_fields) and won amounts (format_won)
    vocabulary  word lists, openings, small talk and acknowledgements
    topics      per-topic fact drawers, dialogue scripts and summary templates (Variant, Topic, TOPICS)
    generator   example assembly (generate_examples, generate_annotated) and split writing
                (split_seed, write_splits)
"""
from __future__ import annotations

from dialsum.data.synthetic.generator import (
    CSV_COLUMNS,
    GENERATOR_VERSION,
    MAX_DIALOGUE_CHARS,
    MAX_SPEAKERS,
    MAX_TURNS,
    MIN_SPEAKERS,
    MIN_TURNS,
    SPLITS,
    SyntheticExample,
    generate_annotated,
    generate_examples,
    split_seed,
    write_splits,
)
from dialsum.data.synthetic.korean import PARTICLE_PAIRS, attach_particle, fill, format_won, template_fields
from dialsum.data.synthetic.topics import TOPICS, Topic, Variant

__all__ = [
    "CSV_COLUMNS",
    "GENERATOR_VERSION",
    "MAX_DIALOGUE_CHARS",
    "MAX_SPEAKERS",
    "MAX_TURNS",
    "MIN_SPEAKERS",
    "MIN_TURNS",
    "PARTICLE_PAIRS",
    "SPLITS",
    "TOPICS",
    "SyntheticExample",
    "Topic",
    "Variant",
    "attach_particle",
    "fill",
    "format_won",
    "generate_annotated",
    "generate_examples",
    "split_seed",
    "template_fields",
    "write_splits",
]
