"""The synthetic dataset: deterministic, in competition format, and with facts a model must copy."""
from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dialsum.data import synthetic
from dialsum.data.synthetic import (
    CSV_COLUMNS,
    attach_particle,
    generate_annotated,
    generate_examples,
    split_seed,
    write_splits,
)

N = 300
SEED = 1234
TURN_RE = re.compile(r"^#Person([1-4])#: \S")
TIME_RE = re.compile(r"오[전후] \d{1,2}시(?: 30분)?")
MIN_TOPICS = 6
MIN_SUMMARY_FACTS = 2


@pytest.fixture(scope="module")
def annotated() -> list[synthetic.SyntheticExample]:
    """One shared sample, since generation is the slow part of these checks."""
    return generate_annotated(N, SEED)


def _speakers(dialogue: str) -> list[int]:
    """Speaker numbers in turn order."""
    return [int(TURN_RE.match(line).group(1)) for line in dialogue.split("\n")]


# --------------------------------------------------------------------------- determinism

def test_same_seed_same_rows() -> None:
    assert generate_examples(50, 7) == generate_examples(50, 7)


def test_different_seed_different_rows() -> None:
    a, b = generate_examples(50, 7), generate_examples(50, 8)
    assert [r["dialogue"] for r in a] != [r["dialogue"] for r in b]


def test_prefix_of_longer_run_is_identical() -> None:
    assert generate_examples(20, 3) == generate_examples(40, 3)[:20]


def test_global_random_state_is_neither_used_nor_changed() -> None:
    random.seed(0)
    state = random.getstate()
    first = generate_examples(30, 5)
    assert random.getstate() == state
    random.seed(99)
    assert generate_examples(30, 5) == first


def test_output_does_not_depend_on_hash_seed() -> None:
    code = ("from dialsum.data.synthetic import generate_examples as g; import hashlib; "
            "print(hashlib.sha256(repr(g(60, 11)).encode()).hexdigest())")
    digests = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


# --------------------------------------------------------------------------- format

def test_rows_have_the_competition_columns_and_unique_fnames() -> None:
    rows = generate_examples(40, 2, prefix="dev")
    assert all(tuple(r) == CSV_COLUMNS for r in rows)
    assert [r["fname"] for r in rows] == [f"dev_{i}" for i in range(40)]
    assert generate_examples(0, 2) == []


def test_every_line_starts_with_a_person_tag(annotated) -> None:
    for example in annotated:
        for line in example.row["dialogue"].split("\n"):
            assert TURN_RE.match(line), line


def test_turn_count_and_lengths_stay_small(annotated) -> None:
    for example in annotated:
        row = example.row
        turns = row["dialogue"].count("\n") + 1
        assert synthetic.MIN_TURNS <= turns <= synthetic.MAX_TURNS
        assert 150 <= len(row["dialogue"]) <= synthetic.MAX_DIALOGUE_CHARS
        assert 35 <= len(row["summary"]) <= 110


def test_first_speaker_is_person1_and_turns_alternate_between_person1_and_2(annotated) -> None:
    for example in annotated:
        main = [s for s in _speakers(example.row["dialogue"]) if s <= 2]
        assert main[0] == 1
        assert all(a != b for a, b in zip(main, main[1:]))


@pytest.mark.parametrize(("low", "high"), [(2, 2), (3, 3), (4, 4), (2, 4), (3, 4)])
def test_speaker_count_within_bounds(low: int, high: int) -> None:
    for example in generate_annotated(60, 17, min_speakers=low, max_speakers=high):
        speakers = _speakers(example.row["dialogue"])
        assert low <= len(set(speakers)) <= high
        assert sorted(set(speakers)) == list(range(1, example.n_speakers + 1))
        extra_order = [s for s in speakers if s > 2]
        assert extra_order == sorted(extra_order)  # #Person3# speaks before #Person4#


@pytest.mark.parametrize(("low", "high"), [(1, 2), (3, 2), (2, 5)])
def test_bad_speaker_bounds_are_refused(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="min_speakers"):
        generate_examples(1, 0, min_speakers=low, max_speakers=high)


def test_topics_and_pii_tags_are_varied(annotated) -> None:
    assert len({e.row["topic"] for e in annotated}) >= MIN_TOPICS
    text = "\n".join(e.row["dialogue"] for e in annotated)
    for tag in ("#PhoneNumber#", "#Address#", "#Email#"):
        assert tag in text


# --------------------------------------------------------------------------- facts

def test_summary_states_facts_from_later_turns(annotated) -> None:
    for example in annotated:
        dialogue, summary = example.row["dialogue"], example.row["summary"]
        shared = [v for v in example.summary_facts.values() if v in dialogue and v in summary]
        assert len(shared) >= MIN_SUMMARY_FACTS, (example.summary_facts, dialogue, summary)
        opener = dialogue.split("\n")[0]
        assert not any(v in opener for v in example.summary_facts.values()), opener


def test_rejected_distractors_never_reach_the_summary(annotated) -> None:
    for example in annotated:
        assert example.distractors, example.row["dialogue"]
        for value in example.distractors.values():
            assert value in example.row["dialogue"]
            assert value not in example.row["summary"], (value, example.row["summary"])


def test_rejected_time_is_said_but_only_the_agreed_time_is_summarised(annotated) -> None:
    """Black-box version: read the times off the text, no annotations."""
    checked = 0
    for example in annotated:
        said = set(TIME_RE.findall(example.row["dialogue"]))
        summarised = set(TIME_RE.findall(example.row["summary"]))
        if len(said) >= 2 and summarised:
            assert summarised < said
            checked += 1
    assert checked >= N // 4


# --------------------------------------------------------------------------- particles

@pytest.mark.parametrize(("word", "pair", "expected"), [
    ("사과", "을/를", "사과를"),
    ("책", "을/를", "책을"),
    ("서울", "으로/로", "서울로"),
    ("부산", "으로/로", "부산으로"),
    ("제주도", "와/과", "제주도와"),
    ("지영", "이/가", "지영이"),
    ("#Person1#", "은/는", "#Person1#은"),
    ("#Person2#", "은/는", "#Person2#는"),
    ("#Person3#", "이/가", "#Person3#가"),
    ("#Person1#", "와/과", "#Person1#과"),
    ("#PhoneNumber#", "으로/로", "#PhoneNumber#로"),
    ("#Email#", "으로/로", "#Email#로"),
    ("#DateOfBirth#", "이에요/예요", "#DateOfBirth#이에요"),
    ("3만 원", "이에요/예요", "3만 원이에요"),
    ("오후 3시", "으로/로", "오후 3시로"),
    ("KTX", "을/를", "KTX를"),
    ("2박 3일", "으로/로", "2박 3일로"),
])
def test_attach_particle(word: str, pair: str, expected: str) -> None:
    assert attach_particle(word, pair) == expected


def test_attach_particle_refuses_unknown_pairs_and_empty_words() -> None:
    with pytest.raises(ValueError, match="unknown particle pair"):
        attach_particle("책", "의/에")
    with pytest.raises(ValueError, match="empty"):
        attach_particle("", "은/는")


# --------------------------------------------------------------------------- write_splits

SIZES = {"train": 30, "val": 10, "test": 12}


def test_write_splits_writes_three_readable_csvs_and_no_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    paths = write_splits(out, SIZES, seed=5)
    assert set(paths) == set(SIZES)
    assert sorted(os.listdir(out)) == ["test.csv", "train.csv", "val.csv"]
    frames = {}
    for split, path in paths.items():
        frame = pd.read_csv(path, encoding="utf-8", dtype=str, keep_default_na=False)
        assert list(frame.columns) == list(CSV_COLUMNS)
        assert len(frame) == SIZES[split]
        assert (frame["summary"].str.len() > 0).all()
        assert frame["fname"].is_unique and frame["fname"].str.startswith(f"{split}_").all()
        frames[split] = frame
    expected = generate_examples(SIZES["train"], split_seed(5, "train"), prefix="train")
    assert frames["train"].to_dict("records") == expected  # newlines in dialogues round-trip
    dialogues = [set(f["dialogue"]) for f in frames.values()]
    assert not (dialogues[0] & dialogues[1]) and not (dialogues[0] & dialogues[2])


def test_write_splits_is_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    a = write_splits(tmp_path / "a", SIZES, seed=1)
    b = write_splits(tmp_path / "b", SIZES, seed=1)
    c = write_splits(tmp_path / "c", SIZES, seed=2)
    assert a["val"].read_bytes() == b["val"].read_bytes()
    assert a["val"].read_bytes() != c["val"].read_bytes()
    assert len({split_seed(1, s) for s in synthetic.SPLITS}) == len(synthetic.SPLITS)


def test_write_splits_refuses_wrong_split_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing"):
        write_splits(tmp_path, {"train": 5, "val": 5}, seed=0)
    with pytest.raises(ValueError, match="unknown"):
        write_splits(tmp_path, {**SIZES, "dev": 3}, seed=0)


def test_failed_write_leaves_no_partial_or_temp_file(tmp_path: Path, monkeypatch) -> None:
    def broken_replace(src, dst):
        raise OSError("disk full")

    from dialsum.tracking import atomic

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_splits(tmp_path, SIZES, seed=0)
    assert os.listdir(tmp_path) == []
