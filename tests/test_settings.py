"""Settings that used to be silently ignored, and config/data checked before work starts (issue 8)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dialsum.engine.trainer import training_arguments
from dialsum.errors import DialsumError


@pytest.mark.parametrize("overrides,expected", [
    ((), 0.05),                                                  # default: warmup_ratio
    (("training.warmup_steps=7",), 7),                           # steps given: used, ratio not
    (("training.warmup_steps=7", "training.warmup_ratio=0.2"), 7),
    (("training.warmup_ratio=0.2",), 0.2),
])
def test_warmup_steps_is_usable(make_cfg, tmp_path: Path, overrides, expected) -> None:
    args = training_arguments(make_cfg(*overrides), tmp_path, decoder_only=False)
    assert args.warmup_steps == expected


@pytest.mark.parametrize("overrides,workers", [((), 0), (("hardware=gpu",), 2), (("hardware=gpu", "training.dataloader_num_workers=0"), 0),
                                                (("training.dataloader_num_workers=3",), 3)])
def test_loader_workers_default_to_two_on_a_gpu_and_none_on_the_cpu(make_cfg, tmp_path: Path, overrides,
                                                                     workers, monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)  # a GPU machine's cores
    args = training_arguments(make_cfg(*overrides), tmp_path, decoder_only=False)
    assert args.dataloader_num_workers == workers


def test_a_gpu_job_with_one_core_gets_no_loader_processes(make_cfg, tmp_path: Path, monkeypatch) -> None:
    """A 1-CPU SLURM task would run 2 loader processes on the training loop's only core."""
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert training_arguments(make_cfg("hardware=gpu"), tmp_path, decoder_only=False).dataloader_num_workers == 0


def _batches_in_a_loky_worker(num_workers: int, context: str | None) -> list:
    """What a sweep's joblib worker does with the Trainer's dataloader settings."""
    import torch

    return [b.tolist() for b in torch.utils.data.DataLoader(list(range(6)), batch_size=2, num_workers=num_workers,
                                                             multiprocessing_context=context)]


def test_loader_workers_start_inside_a_joblib_sweep_worker(make_cfg, tmp_path: Path) -> None:
    """A sweep (or plain multirun) over joblib with training.dataloader_num_workers > 0 failed every trial:
    torch's workers started through loky's default context ('Process' object has no attribute 'env')."""
    from joblib import Parallel, delayed

    args = training_arguments(make_cfg("training.dataloader_num_workers=1"), tmp_path, decoder_only=False)
    with Parallel(n_jobs=2, backend="loky") as parallel:  # n_jobs=1 would run in this process
        def run(context):
            return parallel([delayed(_batches_in_a_loky_worker)(1, context)])[0]

        assert run(args.dataloader_multiprocessing_context) == [[0, 1], [2, 3], [4, 5]]
        with pytest.raises(AttributeError, match="env"):  # what Trainer's default (None) does there
            run(None)


def test_length_grouped_batches_pad_less_on_dialsum_rows(make_cfg, tmp_path: Path) -> None:
    """training.train_sampling_strategy=group_by_length works on dialsum's own feature rows (no `length`
    column): batches of the real Trainer's dataloader carry fewer pad tokens than random ones."""
    import types

    from dialsum.data.features import FeatureSpec, ListDataset, cached_features
    from dialsum.data.splits import load_splits
    from dialsum.engine.trainer import build_trainer
    from dialsum.models.builder import build_model, build_tokenizer

    base = ("debug=fast", "data.max_train_samples=256")
    cfg = make_cfg(*base)
    cache = Path(cfg.paths.cache_dir)
    splits = load_splits(cfg.data, cache)
    tokenizer, family = build_tokenizer(cfg.model, [*splits.train["dialogue"], *splits.train["summary"]], cache)
    model = build_model(cfg.model, tokenizer, family, 0)
    spec = FeatureSpec.from_model_config(cfg.model, family.decoder_only)
    rows = ListDataset(cached_features(splits.train, tokenizer, spec, cache, with_labels=True))
    evaluation = types.SimpleNamespace(decoder_only=False)  # the dataloader alone is looked at
    padding = {}
    for strategy in ("random", "group_by_length"):
        cfg = make_cfg(*base, f"training.train_sampling_strategy={strategy}")
        args = training_arguments(cfg, tmp_path / strategy, decoder_only=False)
        trainer = build_trainer(cfg, args, model, tokenizer, rows, rows, evaluation, [])
        batches = list(trainer.get_train_dataloader())
        pads = sum(int((b["input_ids"] == tokenizer.pad_token_id).sum()) for b in batches)
        padding[strategy] = pads / sum(b["input_ids"].numel() for b in batches)
    assert padding["group_by_length"] < padding["random"] / 2, padding


def test_environment_record_hides_url_passwords(monkeypatch) -> None:
    from dialsum.tracking.environment import snapshot

    monkeypatch.setattr("sys.argv", ["train.py", "-m", "hydra.sweeper.storage=postgresql://u:s3cr3t@h/db"])
    record = snapshot(seed=1)
    assert "s3cr3t" not in str(record) and "postgresql://u:***@h/db" in record["command"]


def test_mistyped_values_are_one_message_without_traceback(tmp_path: Path, cache_dir: Path) -> None:
    from conftest import run_cli

    result = run_cli(["training.learning_rate=abc", "generation.num_beams=two", "hardware.fp16=maybe", "debug=fast",
                      "generation.grow_factor=0.5"], tmp_path, cache_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    for needle in ("training.learning_rate='abc': expected a number", "generation.num_beams='two': expected an integer",
                   "hardware.fp16='maybe': expected true or false", "generation.grow_factor=0.5: expected a number >= 1"):
        assert needle in result.stderr, result.stderr[-3000:]
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_mistyped_sweeper_setting_is_refused_before_any_trial(tmp_path: Path, cache_dir: Path) -> None:
    from conftest import run_cli

    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.n_trials=many",
                      "hydra.sweeper.sampler.seed=x", "data.max_train_samples=1.5",
                      "training.learning_rate=choice(1e-3, 3e-3)"], tmp_path, cache_dir, script="tests/fake_app.py")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    for needle in ("hydra.sweeper.n_trials='many': expected an integer",
                   "hydra.sweeper.sampler.seed='x': expected an integer (or null)",
                   "data.max_train_samples=1.5: expected an integer (or null)"):
        assert needle in result.stderr, result.stderr[-3000:]
    assert not (sweep_dir / "0").exists()


@pytest.mark.parametrize("option", ["sweep=bayes", "sweep=grid", "experiment=sweep_demo", "hardware=gpu",
                                    "hardware=fp16_ckpt", "data=dialogsum_ko", "debug=fast", "model=kogpt2",
                                    "experiment=mt5_korean"])
def test_shipped_configs_pass_the_type_check(option: str) -> None:
    from conftest import compose_cfg
    from dialsum.config_schema import check_job_config

    cfg = compose_cfg([option, "hydra/sweeper=optuna"] if option.startswith("sweep") else [option])
    check_job_config(cfg)


def test_training_needs_no_test_file_and_predict_says_it_does(tmp_path: Path, cache_dir: Path) -> None:
    from conftest import run_cli

    rows = "".join(f'd{i},"#Person1#: 안녕하세요 {i}.\n#Person2#: 네, 반갑습니다.",#Person1#이 인사합니다 {i}.\n'
                   for i in range(12))
    for split in ("train", "val"):
        (tmp_path / f"{split}.csv").write_text("fname,dialogue,summary\n" + rows, encoding="utf-8")
    result = run_cli(["data=dialogsum_ko", f"data.train_path={tmp_path / 'train.csv'}",  # test_path: the default,
                      f"data.val_path={tmp_path / 'val.csv'}", "debug=fast",             # which does not exist here
                      "metric.tokenizer=whitespace", "artifacts.save_model=true", "hydra.run.dir=outputs/run"],
                     tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "outputs" / "run" / "metrics.json").is_file()
    predicted = run_cli([f"run_dir={tmp_path / 'outputs' / 'run'}", "hydra.run.dir=outputs/predict"], tmp_path,
                        cache_dir, script="predict.py")
    assert predicted.returncode == 2 and "Traceback" not in predicted.stderr, predicted.stderr[-3000:]
    assert "predict.py needs the test CSV: data.test_path=data/dialogsum_ko/test.csv" in predicted.stderr


@pytest.mark.parametrize("override, problem", [
    ("training.learning_rate=-1e-3", "training.learning_rate=-0.001: expected a number > 0"),
    ("training.per_device_train_batch_size=0", "training.per_device_train_batch_size=0: expected a number >= 1"),
    ("generation.num_beams=0", "generation.num_beams=0: expected a number >= 1"),
    ("training.weight_decay=-1.0", "training.weight_decay=-1.0: expected a number >= 0"),
    ("generation.no_repeat_ngram_size=-1", "generation.no_repeat_ngram_size=-1: expected a number >= 0"),
    ("model.max_source_length=2", "model.max_source_length=2: expected a number >= 16"),
    ("training.warmup_ratio=1.5", "training.warmup_ratio=1.5: expected a number in [0, 1]"),
    ("model.init=finetuned", "model.init='finetuned': expected one of scratch, pretrained"),
    ("training.eval_steps=10", "training.save_steps=2 is not a multiple of training.eval_steps=10"),  # HF's traceback
    ("training.save_strategy=epoch", "training.save_strategy='epoch' and training.eval_strategy='steps'")])
def test_values_outside_their_range_are_refused_before_any_work(override: str, problem: str) -> None:
    """Each would fail the run (often only after training) or silently train nonsense."""
    from conftest import compose_cfg
    from dialsum.config_schema import check_job_config

    with pytest.raises(DialsumError) as err:
        check_job_config(compose_cfg(["debug=fast", override]))
    assert problem in str(err.value) and "cannot use" in str(err.value)


def test_a_searched_value_outside_its_range_is_refused_before_any_trial(tmp_path: Path, cache_dir: Path) -> None:
    from conftest import run_cli

    sweep_dir = tmp_path / "multirun" / "beams"
    result = run_cli(["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "debug=fast",
                      "generation.num_beams=choice(0, 1, 2)", "training.learning_rate=interval(-1e-3, 1e-3)"],
                     tmp_path, cache_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "search space generation.num_beams: 0 outside its range (expected a number >= 1)" in result.stderr
    assert "search space training.learning_rate: -0.001 outside its range" in result.stderr
    assert not (sweep_dir / "0").exists()
