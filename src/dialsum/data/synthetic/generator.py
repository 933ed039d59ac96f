"""Example assembly for the synthetic data, and writing the train/val/test CSV splits.

An example is a topic's variant filled with drawn facts: a fact-free opening, optional small talk
and asides, the scripted turns, and lines from extra speakers, trimmed to the turn and length
limits. ``write_splits`` writes each split with its own seed derived by ``split_seed``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dialsum.data.synthetic.korean import fill, template_fields
from dialsum.data.synthetic.topics import MAX_REDRAWS, TOPICS, Variant
from dialsum.data.synthetic.vocabulary import (
    CASUAL_ACKS,
    CASUAL_SMALL_TALK,
    PERSON_TAGS,
    POLITE_ACKS,
    POLITE_SMALL_TALK,
)
from dialsum.tracking.atomic import write_text

# --------------------------------------------------------------------------- sizes and limits

GENERATOR_VERSION = 2  # bump when generated content changes: cached sets are regenerated
MIN_SPEAKERS = 2
MAX_SPEAKERS = 4
MAX_TURNS = 10
MIN_TURNS = 4
MAX_DIALOGUE_CHARS = 450
SMALL_TALK_PROB = 0.5
ASIDE_PROB = 0.5
ECHO_PROB = 0.6  # an extra speaker repeats an agreed fact instead of a bare acknowledgement


# --------------------------------------------------------------------------- assembly

@dataclass(frozen=True)
class SyntheticExample:
    """A generated row plus the ground truth the tests and baselines need."""

    row: dict[str, str]
    variant: str
    n_speakers: int
    summary_facts: dict[str, str]  # slot values the summary states (speaker tags excluded)
    distractors: dict[str, str]  # values said in the dialogue that the summary must not state


_DISTRACTOR_PREFIXES = ("rej_", "other_")


def _speaker_line(speaker: int, text: str) -> str:
    """Competition format: "#PersonN#: text"."""
    return f"{PERSON_TAGS[speaker - 1]}: {text}"


def _render(lines: list[tuple[int, str]]) -> str:
    """Join turns with newlines, as in the competition CSVs."""
    return "\n".join(_speaker_line(speaker, text) for speaker, text in lines)


def _build_example(rng: random.Random, fname: str, min_speakers: int, max_speakers: int) -> SyntheticExample:
    """Draw examples until no distractor is spelled inside the summary (e.g. 100만 원 in 2100만 원)."""
    for _ in range(MAX_REDRAWS):
        example = _draw_example(rng, fname, min_speakers, max_speakers)
        if not any(v in example.row["summary"] for v in example.distractors.values()):
            return example
    raise RuntimeError(f"could not draw a clean example for {fname}")


def _draw_example(rng: random.Random, fname: str, min_speakers: int, max_speakers: int) -> SyntheticExample:
    """Draw one example: topic, variant, facts, then the dialogue and its summary."""
    topic = rng.choice(TOPICS)
    variant = rng.choice(topic.variants)
    facts = topic.draw_facts(rng)
    facts.update({"P1": PERSON_TAGS[0], "P2": PERSON_TAGS[1]})
    n_speakers = rng.randint(min_speakers, max_speakers)
    used: list[str] = []  # templates actually spoken, to know which distractors the dialogue has

    def say(speaker: int, alternatives: tuple[str, ...]) -> tuple[int, str]:
        """Pick one phrasing, remember it, and fill it."""
        template = rng.choice(alternatives)
        used.append(template)
        return speaker, fill(template, facts)

    opener, answer = rng.choice(variant.openings)
    core = [say(speaker, alts) for speaker, alts in variant.turns]
    extra = _extra_speaker_lines(rng, variant, facts, n_speakers, used)
    optional: list[list[tuple[int, str]]] = []  # groups after the opening, dropped first if too long
    if rng.random() < SMALL_TALK_PROB:
        talk = rng.choice(CASUAL_SMALL_TALK if variant.casual else POLITE_SMALL_TALK)
        optional.append([(1, talk[0]), (2, talk[1])])
    if variant.asides and rng.random() < ASIDE_PROB:
        line, reply = rng.choice(variant.asides)
        optional.append([say(1, (line,)), say(2, (reply,))])

    lines = _assemble([(1, opener), (2, answer)], core, extra, optional)
    dialogue = _render(lines)
    summary = fill(variant.summary, facts)
    spoken = {k for template in used for k in template_fields(template)}
    row = {"fname": fname, "dialogue": dialogue, "summary": summary, "topic": topic.label}
    summary_keys = [k for k in template_fields(variant.summary) if k not in ("P1", "P2")]
    return SyntheticExample(
        row=row, variant=variant.key, n_speakers=n_speakers,
        summary_facts={k: facts[k] for k in summary_keys},
        distractors={k: facts[k] for k in sorted(spoken)
                     if k.startswith(_DISTRACTOR_PREFIXES) and facts[k] in dialogue},
    )


def _extra_speaker_lines(rng: random.Random, variant: Variant, facts: dict[str, str], n_speakers: int,
                         used: list[str]) -> list[tuple[int, str, tuple[str, ...]]]:
    """One line per speaker beyond #Person2#: an echo of agreed facts (with them) or an acknowledgement."""
    lines = []
    for speaker in range(MIN_SPEAKERS + 1, n_speakers + 1):
        if variant.echoes and rng.random() < ECHO_PROB:
            template = rng.choice(variant.echoes)
            used.append(template)
            echoed = tuple(facts[k] for k in template_fields(template))
            lines.append((speaker, fill(template, facts), echoed))
        else:
            lines.append((speaker, rng.choice(CASUAL_ACKS if variant.casual else POLITE_ACKS), ()))
    return lines


def _assemble(opening: list[tuple[int, str]], core: list[tuple[int, str]],
              extra: list[tuple[int, str, tuple[str, ...]]],
              optional: list[list[tuple[int, str]]]) -> list[tuple[int, str]]:
    """Order the turns and drop optional chit-chat groups until the turn and length limits hold.

    Extra speakers chime in just before the closing turn, or after it when they echo a fact that
    only the closing turn states (an echo must never precede the fact it repeats).
    """
    body, closing = core[:-1], core[-1:]
    said_before_closing = "\n".join(text for _, text in opening + body)
    grounded = [all(v in said_before_closing for v in echoed) for _, _, echoed in extra]
    ordered = [text for (_, text, _), ok in zip(extra, grounded) if ok]
    ordered += [text for (_, text, _), ok in zip(extra, grounded) if not ok]
    # Number extra speakers by first appearance, so #Person3# always speaks before #Person4#.
    numbered = [(MIN_SPEAKERS + 1 + i, text) for i, text in enumerate(ordered)]
    n_early = sum(grounded)
    early, late = numbered[:n_early], numbered[n_early:]
    while True:
        chit_chat = [line for group in optional for line in group]
        lines = opening + chit_chat + body + early + closing + late
        too_long = len(_render(lines)) > MAX_DIALOGUE_CHARS or len(lines) > MAX_TURNS
        if not too_long or not optional:
            return lines
        optional = optional[1:]


def _iter_examples(rng: random.Random, prefix: str, min_speakers: int,
                   max_speakers: int) -> Iterator[SyntheticExample]:
    """An endless stream of examples named prefix_0, prefix_1, ..."""
    index = 0
    while True:
        yield _build_example(rng, f"{prefix}_{index}", min_speakers, max_speakers)
        index += 1


def _check_speakers(min_speakers: int, max_speakers: int) -> None:
    """Refuse speaker bounds the turn budget and tag list cannot honour."""
    if not MIN_SPEAKERS <= min_speakers <= max_speakers <= MAX_SPEAKERS:
        raise ValueError(
            f"need {MIN_SPEAKERS} <= min_speakers <= max_speakers <= {MAX_SPEAKERS}, "
            f"got min_speakers={min_speakers}, max_speakers={max_speakers}"
        )


def generate_annotated(n: int, seed: int, prefix: str = "train", min_speakers: int = MIN_SPEAKERS,
                       max_speakers: int = MAX_SPEAKERS) -> list[SyntheticExample]:
    """Like generate_examples, but keeps the facts and distractors behind each row."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    _check_speakers(min_speakers, max_speakers)
    stream = _iter_examples(random.Random(seed), prefix, min_speakers, max_speakers)
    return [next(stream) for _ in range(n)]


def generate_examples(n: int, seed: int, prefix: str = "train", min_speakers: int = MIN_SPEAKERS,
                      max_speakers: int = MAX_SPEAKERS) -> list[dict[str, str]]:
    """n rows (fname, dialogue, summary, topic); the same arguments always give the same rows."""
    return [example.row for example in generate_annotated(n, seed, prefix, min_speakers, max_speakers)]


# --------------------------------------------------------------------------- writing splits

SPLITS = ("train", "val", "test")
CSV_COLUMNS = ("fname", "dialogue", "summary", "topic")
SEED_BYTES = 8


def split_seed(seed: int, split: str) -> int:
    """A per-split seed derived with SHA-256, so splits differ and never depend on hash()."""
    digest = hashlib.sha256(f"{seed}:{split}".encode("utf-8")).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def _write_csv_atomic(path: Path, rows: list[dict[str, str]]) -> None:
    """Write to a temp file in the same folder, then os.replace, so readers never see half a file."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue(), newline="")


def write_splits(out_dir: Path, sizes: dict[str, int], seed: int) -> dict[str, Path]:
    """Write train/val/test CSVs (all with summaries, so test can be scored) and return their paths."""
    missing = [s for s in SPLITS if s not in sizes]
    unknown = sorted(s for s in sizes if s not in SPLITS)
    if missing or unknown:
        raise ValueError(
            f"sizes must have exactly the keys {list(SPLITS)}; missing {missing}, unknown {unknown}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in SPLITS:
        rows = generate_examples(sizes[split], split_seed(seed, split), prefix=split)
        paths[split] = out_dir / f"{split}.csv"
        _write_csv_atomic(paths[split], rows)
    return paths
