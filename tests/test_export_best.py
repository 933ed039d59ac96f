"""dialsum export-best: conf/experiment/NAME.yaml composes (Hydra compose API) back to the best trial's settings."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from dialsum.analysis.export import MARKER, export_best
from dialsum.cli import main
from dialsum.errors import DialsumError
from fake_sweep import CONF, FakeTrial, build_fake_sweep, default_trials

os.environ["HF_HUB_OFFLINE"] = "1"
optuna.logging.set_verbosity(optuna.logging.WARNING)
S = optuna.trial.TrialState
BEST = 2  # the fake sweep's best trial
TRAINING_DEFAULT_MAX_STEPS = -1


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """The default fake sweep (fixed overrides: model=t5 debug=fast generation.num_beams=2)."""
    return build_fake_sweep(tmp_path_factory.mktemp("sweep"))


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A copy of the repo's conf: the repo's own files stay untouched."""
    return Path(shutil.copytree(CONF, tmp_path / "conf"))


def compose_experiment(conf: Path, name: str) -> DictConfig:
    """What `python train.py experiment=NAME` composes."""
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose(config_name="train", overrides=[f"experiment={name}"])


def best_params(sweep: Path) -> dict:
    """The best trial's params straight from the study."""
    from dialsum.analysis.study_io import load_sweep

    return load_sweep(sweep).study.best_trial.params


def test_round_trip_gives_the_best_trial_on_full_data(sweep: Path, conf: Path) -> None:
    path = export_best(sweep, "best_t5", conf_dir=conf)
    assert path == conf / "experiment" / "best_t5.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# @package _global_\n") and MARKER in text
    assert "override /model: t5" in text and "trial" not in text.split("defaults:")[1]
    cfg = compose_experiment(conf, "best_t5")
    params = best_params(sweep)
    assert cfg.training.learning_rate == params["training.learning_rate"]
    assert cfg.training.per_device_train_batch_size == params["training.per_device_train_batch_size"]
    assert cfg.training.warmup_ratio == params["training.warmup_ratio"]
    assert cfg.model.name == "t5" and cfg.generation.num_beams == 2  # fixed overrides of the sweep
    assert cfg.data.max_train_samples is None and cfg.data.max_val_samples is None
    assert cfg.training.max_steps == TRAINING_DEFAULT_MAX_STEPS  # debug=fast left out
    assert cfg.trial.number is None
    assert cfg.hardware.torch_threads is None and "hardware.torch_threads=1 to train on the same count" in text


def test_without_full_data_keeps_the_debug_preset(sweep: Path, conf: Path) -> None:
    export_best(sweep, "best_debug", conf_dir=conf, full_data=False)
    cfg = compose_experiment(conf, "best_debug")
    assert cfg.data.max_train_samples is not None and cfg.training.max_steps > 0
    assert cfg.training.learning_rate == best_params(sweep)["training.learning_rate"]
    assert cfg.hardware.torch_threads == 1  # the count it trained on: on the CPU another count trains other weights


def test_sweep_on_an_experiment_preset(tmp_path: Path, conf: Path) -> None:
    sweep = build_fake_sweep(tmp_path, fixed_overrides=["experiment=quick_test", "model=kogpt2"])
    text = export_best(sweep, "from_quick", conf_dir=conf).read_text(encoding="utf-8")
    assert "- quick_test" in text
    assert "training.max_steps=12" in text and "generation.max_new_tokens=24: override those" in text  # said
    cfg = compose_experiment(conf, "from_quick")
    assert cfg.model.name == "kogpt2" and cfg.generation.max_new_tokens == 24  # quick_test's value
    assert cfg.data.max_train_samples is None  # its cap dropped for the full-data run
    assert cfg.training.learning_rate == best_params(sweep)["training.learning_rate"]


@pytest.mark.parametrize("debug", [[], ["debug=fast"]])
def test_the_sweep_presets_training_length_is_kept(tmp_path: Path, conf: Path, debug: list[str]) -> None:
    """sweep=grid is left out (sweeper settings), but its training.max_steps=600 is what the trials ran with; under
    debug=fast (4 steps, dropped for the full-data run) the export trained 8 epochs instead of the sweep's 600 steps."""
    sweep = build_fake_sweep(tmp_path, fixed_overrides=["sweep=grid", *debug, "model=t5"])
    text = export_best(sweep, "from_grid", conf_dir=conf).read_text(encoding="utf-8")
    assert "kept from the sweep preset grid: training.max_steps=600" in text
    cfg = compose_experiment(conf, "from_grid")
    assert (cfg.training.max_steps, cfg.training.eval_steps) == (600, 100) and cfg.model.name == "t5"


def test_refuses_to_overwrite_a_hand_written_experiment(sweep: Path, conf: Path) -> None:
    with pytest.raises(DialsumError, match="not written by export-best"):
        export_best(sweep, "quick_test", conf_dir=conf)
    first = export_best(sweep, "again", conf_dir=conf)
    assert export_best(sweep, "again", conf_dir=conf, full_data=False) == first  # its own file: replaced
    assert "debug/fast" in first.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["", "../escape", "a b", "x.yaml", "é"])
def test_invalid_names_are_user_errors(sweep: Path, conf: Path, name: str) -> None:
    with pytest.raises(DialsumError, match="letters, digits"):
        export_best(sweep, name, conf_dir=conf)


def test_no_completed_trial_is_a_user_error(tmp_path: Path, conf: Path) -> None:
    trials = [FakeTrial(S.FAIL, t.params, error="boom") for t in default_trials()[:2]]
    sweep = build_fake_sweep(tmp_path, trials=trials)
    with pytest.raises(DialsumError, match="no completed trial"):
        export_best(sweep, "none", conf_dir=conf)


def test_wrong_conf_dir_is_a_user_error(sweep: Path, tmp_path: Path) -> None:
    with pytest.raises(DialsumError, match="--conf-dir"):
        export_best(sweep, "x", conf_dir=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DialsumError, match="primary config"):
        export_best(sweep, "x", conf_dir=tmp_path / "empty")


def test_cli(sweep: Path, conf: Path, capsys) -> None:
    main(["export-best", str(sweep), "--name", "cli_best", "--conf-dir", str(conf), "--no-full-data"])
    assert capsys.readouterr().out.strip() == str(conf / "experiment" / "cli_best.yaml")
    with pytest.raises(SystemExit) as exc:
        main(["export-best", str(sweep), "--name", "bad name", "--conf-dir", str(conf)])
    assert exc.value.code == 2 and "letters, digits" in capsys.readouterr().err
