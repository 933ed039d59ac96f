"""Data loading checks, the feature cache, tags in tokenizers, and decoder-only generation."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from conftest import SHARED_DATA, compose_cfg
from dialsum.data import features
from dialsum.data.checks import report_duplicates, report_leakage, warn_small_validation
from dialsum.data.features import FeatureSpec, cached_features
from dialsum.data.splits import load_splits
from dialsum.engine.generation import generate_summaries, grow_factor, plan_batches
from dialsum.models.builder import build_model, build_tokenizer

DIALOGUES = ["#Person1#: 내일 오후 3시에 강남역에서 만나자.\n#Person2#: 좋아, #PhoneNumber#로 연락해.",
             "#Person1#: 이 셔츠 얼마예요?\n#Person2#: 3만 원입니다.\n#Person1#: 살게요."]
SUMMARIES = ["#Person1#과 #Person2#는 내일 오후 3시에 강남역에서 만납니다.", "#Person1#은 셔츠를 3만 원에 삽니다."]


def _frame(n: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"fname": [f"d{i}" for i in range(n)], "dialogue": DIALOGUES[:n], "summary": SUMMARIES[:n]})


def test_duplicates_and_leakage_are_reported(caplog) -> None:
    caplog.set_level(logging.WARNING)
    frame = pd.concat([_frame(), _frame()], ignore_index=True)
    assert report_duplicates(frame, "train") == 2
    assert report_leakage(frame, _frame(1)) == 1
    assert "duplicate fname" in caplog.text and "leakage" in caplog.text


def test_header_case_and_spaces_and_nul_bytes_are_read(tmp_path: Path) -> None:
    """An Excel export: `Fname, Dialogue,Summary ` headers and a NUL byte inside a turn."""
    from dialsum.data.csv_io import read_dialogue_csv
    from dialsum.data.splits import normalize_frame

    path = tmp_path / "train.csv"
    path.write_text('Fname, Dialogue,Summary \nd1,"#Person1#: 안녕\x00하세요.\x0b#Person2#: 네.",인사합니다.\n',
                    encoding="utf-8")
    frame = normalize_frame(read_dialogue_csv(path, require_summary=True), "light")
    assert list(frame.columns) == ["fname", "dialogue", "summary"]
    assert frame.loc[0, "dialogue"] == "#Person1#: 안녕하세요.\n#Person2#: 네."


@pytest.mark.parametrize("n_train,n_val,warned", [(2000, 240, False), (5000, 50, True), (100, 50, False),
                                                   (10000, 600, False)])
def test_small_validation_warning(n_train: int, n_val: int, warned: bool) -> None:
    assert warn_small_validation(n_train, n_val, min_rows=500, min_fraction=0.1) is warned


def test_empty_rows_are_dropped_and_counted(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    path = tmp_path / "x.csv"
    frame = _frame()
    frame.loc[1, "summary"] = " "
    frame.to_csv(path, index=False)
    cfg = OmegaConf.create({"name": "t", "source": "csv", "train_path": str(path), "val_path": str(path),
                            "test_path": None, "max_train_samples": None, "max_val_samples": None,
                            "normalization": "medium", "min_val_rows": 0, "min_val_fraction": 0.0})
    splits = load_splits(cfg)
    assert len(splits.train) == 1 and "dropped 1 row(s)" in caplog.text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny scratch tokenizers + models for two families."""
    cache = tmp_path_factory.mktemp("cache")
    texts = DIALOGUES + SUMMARIES
    out = {}
    for name in ("kobart", "kogpt2"):
        cfg = compose_cfg([f"model={name}", "model.scratch.vocab_size=300"])
        tokenizer, family = build_tokenizer(cfg.model, texts * 5, cache)
        out[name] = (tokenizer, build_model(cfg.model, tokenizer, family, seed=0), family, cfg.model, cache)
    return out


@pytest.mark.parametrize("name", ["kobart", "kogpt2"])
def test_tags_are_single_tokens_that_survive_decoding(tiny, name: str) -> None:
    tokenizer = tiny[name][0]
    ids = tokenizer("#Person1#과 #PhoneNumber#", add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_tokens_to_ids("#Person1#") in ids
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert "#Person1#" in decoded and "#PhoneNumber#" in decoded


def test_feature_cache_skips_tokenization(tiny, monkeypatch) -> None:
    tokenizer, _, family, model_cfg, cache = tiny["kobart"]
    spec = FeatureSpec(False, "", "", 64, 32)
    first = cached_features(_frame(), tokenizer, spec, cache, with_labels=True)

    def boom(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(features, "tokenize_frame", boom)
    assert cached_features(_frame(), tokenizer, spec, cache, with_labels=True) == first
    with pytest.raises(AssertionError):  # other lengths = another cache key
        cached_features(_frame(), tokenizer, FeatureSpec(False, "", "", 32, 32), cache, with_labels=True)


def test_decoder_only_labels_mask_the_prompt(tiny) -> None:
    tokenizer = tiny["kogpt2"][0]
    spec = FeatureSpec(True, "", " 요약: ", 64, 32)
    row = features.tokenize_frame(_frame(1), tokenizer, spec, with_labels=True)[0]
    n_prompt = sum(1 for x in row["labels"] if x == features.IGNORE_INDEX)
    assert n_prompt > 0 and row["labels"][n_prompt:] == row["input_ids"][n_prompt:]
    assert row["input_ids"][-1] == tokenizer.eos_token_id


def test_left_padded_batch_generates_like_single_prompts(tiny) -> None:
    """Decoder-only generation: padding must not change what a prompt produces."""
    tokenizer, model, _, _, _ = tiny["kogpt2"]
    spec = FeatureSpec(True, "", " 요약: ", 64, 32)
    prompts = [r["input_ids"] for r in features.tokenize_frame(_frame(), tokenizer, spec, with_labels=False)]
    gen = OmegaConf.create({"batch_size": 2, "num_beams": 1, "max_new_tokens": 6, "length_penalty": 1.0,
                            "no_repeat_ngram_size": 0})
    batched, _ = generate_summaries(model, tokenizer, prompts, gen, True, torch.device("cpu"))
    gen.batch_size = 1
    single, _ = generate_summaries(model, tokenizer, prompts, gen, True, torch.device("cpu"))
    assert batched == single


def test_generation_batches_grow_for_shorter_prompts_within_the_first_batchs_tokens() -> None:
    """Longest first; shorter prompts fill bigger batches, never past grow_factor x batch_size or the tokens."""
    lengths = [100] * 4 + [40] * 20 + [10] * 30
    plan = plan_batches(lengths, size=4, new_tokens=20, grow_factor=4)
    assert sorted(i for batch in plan for i in batch) == list(range(len(lengths)))
    assert plan[0] == [0, 1, 2, 3]  # 4 x (100 + 20) = 480 tokens: the budget of every later batch
    for batch in plan:
        assert len(batch) <= 16 and len(batch) * (max(lengths[i] for i in batch) + 20) <= 480
    # 480 // (40 + 20) = 8 rows while a 40 leads the batch (padded to 40); then 480 // (10 + 20) = 16, the cap
    assert [len(b) for b in plan] == [4, 8, 8, 8, 16, 10]
    assert plan_batches(lengths, 4, 20, grow_factor=1) == [sorted(range(54), key=lambda i: -lengths[i])[i:i + 4]
                                                           for i in range(0, 54, 4)]


def test_generation_batches_grow_as_far_as_the_measured_memory_allows() -> None:
    lengths = [100] * 4 + [40] * 20 + [10] * 30
    roomy = plan_batches(lengths, 4, 20, grow_factor=4, scale=10)  # the card has 10x the first batch's peak free
    tight = plan_batches(lengths, 4, 20, grow_factor=4, scale=1.5)
    for plan, rows, tokens in ((roomy, 16, 4800), (tight, 6, 720)):
        assert plan[0] == [0, 1, 2, 3] and sorted(i for b in plan for i in b) == list(range(len(lengths)))
        for batch in plan[1:]:
            assert len(batch) <= rows and len(batch) * (max(lengths[i] for i in batch) + 20) <= tokens
    assert [len(b) for b in roomy] == [4, 16, 16, 16, 2]


def test_memory_headroom_is_split_between_runs_sharing_the_card(monkeypatch) -> None:
    from dialsum.engine.generation import memory_scale
    from dialsum.sweep import devices

    gib = 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (30 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 12 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 10 * gib)
    cuda = torch.device("cuda")
    assert memory_scale(cuda, 1 * gib) == 16  # half of (30 free + 2 cached) GiB / a 1 GiB first batch
    monkeypatch.setattr(devices, "_per_gpu", 2)
    assert memory_scale(cuda, 1 * gib) == 8 and memory_scale(cuda, 40 * gib) == 1
    assert memory_scale(torch.device("cpu"), gib) == 1


def _varied_prompts(tiny) -> list[list[int]]:
    """Decoder-only prompts of 6 lengths, so that batches after the first can grow."""
    tokenizer = tiny["kogpt2"][0]
    spec = FeatureSpec(True, "", " 요약: ", 64, 32)
    full = features.tokenize_frame(_frame(), tokenizer, spec, with_labels=False)[0]["input_ids"]
    return [full[-n:] for n in (30, 30, 12, 12, 10, 10, 8, 8, 6, 6, 5, 5)]


def _recorded_generate(model, monkeypatch, limit: int | None = None) -> list[int]:
    """Rows of every generate call; with `limit`, batches above it fail like a full GPU."""
    rows, real = [], model.generate

    def generate(*args, **kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        if limit is not None and rows[-1] > limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", generate)
    return rows


def test_on_a_gpu_batches_grow_by_the_first_batchs_measured_memory(tiny, monkeypatch) -> None:
    """The CUDA path on a stand-in: the first batch is measured, the rest planned with the card's headroom."""
    from dialsum.engine import generation
    from dialsum.tracking import resources

    tokenizer, model = tiny["kogpt2"][:2]
    prompts, cpu = _varied_prompts(tiny), torch.device("cpu")
    gen = OmegaConf.create({"batch_size": 2, "num_beams": 1, "max_new_tokens": 4, "length_penalty": 1.0,
                            "no_repeat_ngram_size": 0, "grow_factor": 4})
    expected, _ = generate_summaries(model, tokenizer, prompts, OmegaConf.merge(gen, {"grow_factor": 1}), True, cpu)
    monkeypatch.setattr(generation, "_can_measure", lambda device: True)
    monkeypatch.setattr(resources, "gpu_peak_during", lambda device, fn: fn() or 1000)
    monkeypatch.setattr(generation, "memory_scale", lambda device, peak: 3.0 if peak == 1000 else 1.0)
    rows = _recorded_generate(model, monkeypatch)
    texts, _ = generate_summaries(model, tokenizer, prompts, gen, True, cpu)
    assert texts == expected and rows == [len(b) for b in plan_batches([len(p) for p in prompts], 2, 4, 4, 3.0)]
    assert rows[0] == 2 and max(rows) == 6  # cap: min(grow_factor 4, headroom 3) x batch_size 2


def test_out_of_memory_in_a_grown_batch_falls_back_to_batch_size(tiny, monkeypatch, caplog) -> None:
    tokenizer, model = tiny["kogpt2"][:2]
    prompts, cpu = _varied_prompts(tiny), torch.device("cpu")
    gen = OmegaConf.create({"batch_size": 2, "num_beams": 1, "max_new_tokens": 4, "length_penalty": 1.0,
                            "no_repeat_ngram_size": 0, "grow_factor": 4})
    expected, _ = generate_summaries(model, tokenizer, prompts, OmegaConf.merge(gen, {"grow_factor": 1}), True, cpu)
    rows = _recorded_generate(model, monkeypatch, limit=2)
    texts, _ = generate_summaries(model, tokenizer, prompts, gen, True, cpu)
    assert texts == expected and rows[1] > 2 and rows[2:] == [2] * 5
    assert "out of GPU memory in a batch grown to" in caplog.text


def test_shipped_grow_factor_grows_batches_on_a_gpu_only() -> None:
    gen = compose_cfg([]).generation
    assert grow_factor(gen, torch.device("cpu")) == 1 and grow_factor(gen, torch.device("cuda")) == 8
    assert grow_factor(OmegaConf.merge(gen, {"grow_factor": 2}), torch.device("cpu")) == 2


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="real DialogSum-ko rows not available")
def test_real_dialogsum_ko_rows_load_and_leakage_is_seen(caplog) -> None:
    caplog.set_level(logging.WARNING)
    cfg = compose_cfg(["data=dialogsum_ko", f"data.train_path={SHARED_DATA / 'dev.csv'}",
                       f"data.val_path={SHARED_DATA / 'dev.csv'}", f"data.test_path={SHARED_DATA / 'test.csv'}"])
    splits = load_splits(cfg.data)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (399, 399, 499)
    assert "leakage: 399 dialogue(s)" in caplog.text
    assert all("#Person1#" in d for d in splits.train["dialogue"].head(20))


def test_prepared_splits_are_cached_and_warnings_replayed(tmp_path: Path, caplog, monkeypatch) -> None:
    """The second run skips reading/normalising, and still says what is wrong with the data."""
    from dialsum.data import splits as splits_module

    path = tmp_path / "x.csv"
    pd.concat([_frame(), _frame()], ignore_index=True).to_csv(path, index=False)
    cfg = OmegaConf.create({"name": "t", "source": "csv", "train_path": str(path), "val_path": str(path),
                            "test_path": None, "max_train_samples": None, "max_val_samples": None,
                            "normalization": "light", "min_val_rows": 0, "min_val_fraction": 0.0})
    caplog.set_level(logging.WARNING)
    first = load_splits(cfg, tmp_path / "cache")
    warnings_first = [r.getMessage() for r in caplog.records]
    caplog.clear()

    def boom(*args, **kwargs):
        raise AssertionError("prepared again")

    monkeypatch.setattr(splits_module, "_prepare", boom)
    second = load_splits(cfg, tmp_path / "cache")
    assert second.train.equals(first.train) and second.val.equals(first.val)
    assert [r.getMessage() for r in caplog.records] == warnings_first and any("leakage" in w for w in warnings_first)
    path.write_text(path.read_text(encoding="utf-8") + 'd9,"#Person1#: 새 대화",새 요약\n', encoding="utf-8")
    with pytest.raises(AssertionError, match="prepared again"):  # changed file content = new key
        load_splits(cfg, tmp_path / "cache")
