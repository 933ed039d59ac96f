"""dialsum.pruning (the public API any app's task function calls) and the pieces behind `dialsum_optuna`."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

import optuna
from conftest import compose_cfg
from dialsum import pruning
from dialsum.errors import DialsumError
from dialsum.sweep import app_profile, trial_env
from dialsum.sweep.pruners import build_pruner
from dialsum.sweep.samplers import build_sampler, sampler_name
from dialsum.sweep.search_space import parse_space
from dialsum.sweep.storage import open_storage


@pytest.fixture
def asked_trial(tmp_path, monkeypatch):
    """A study with two completed trials (low values) and a third asked one, addressed through the environment."""
    url = str(tmp_path / "journal.log")
    study = optuna.create_study(study_name="s", storage=open_storage(url), direction="minimize")
    for value in (1.0, 2.0):
        t = study.ask()
        t.report(value, step=0)  # an app's own steps (epochs from 0)
        t.report(value, step=1)  # the HF callback's: evaluations done, from 1
        study.tell(t, value)
    trial = study.ask()
    pruner = {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 2, "n_warmup_steps": 0}
    env = {}
    for line in trial_env.env_overrides(trial.number, "s", url, pruner):
        key, value = line.removeprefix("++hydra.job.env_set.").split("=", 1)
        env[key] = value.strip("'")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return study, trial


def test_report_outside_a_sweep_does_nothing(monkeypatch) -> None:
    for name in trial_env.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    assert pruning.in_sweep() is False and pruning.trial() is None
    assert pruning.report(1.0, step=0) is False and pruning.should_prune() is False


def test_report_reaches_the_trial_and_prunes(asked_trial) -> None:
    study, trial = asked_trial
    assert pruning.in_sweep() and pruning.trial().number == trial.number
    assert pruning.report(0.5, step=0) is False              # better than the median: go on
    stored = study._storage.get_trial(trial._trial_id)
    assert stored.intermediate_values[0] == 0.5


def test_report_says_prune_when_worse(asked_trial) -> None:
    study, trial = asked_trial
    assert pruning.report(5.0, step=0) is True and pruning.should_prune() is True


def test_hf_callback_raises_trial_pruned(asked_trial) -> None:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from dialsum.pruning.hf import PruningCallback

    callback = PruningCallback(metric="eval_loss")
    args = TrainingArguments(output_dir="unused", use_cpu=True, report_to=[])
    with pytest.raises(KeyError, match="eval_rouge"):
        callback.on_evaluate(args, TrainerState(), TrainerControl(), metrics={"eval_rouge": 1.0})
    with pytest.raises(optuna.TrialPruned):
        callback.on_evaluate(args, TrainerState(), TrainerControl(), metrics={"eval_loss": 5.0})


def test_lightning_callback_imports_only_with_lightning() -> None:
    pytest.importorskip("lightning")
    from dialsum.pruning.lightning import PruningCallback

    assert PruningCallback(monitor="val_loss").monitor == "val_loss"


def test_samplers_in_hydra_optuna_sweeper_form() -> None:
    space = parse_space({"x": "choice(1, 2)", "y": "range(0, 3)"}, [])
    tpe = build_sampler({"_target_": "optuna.samplers.TPESampler", "seed": 1, "n_startup_trials": 3}, space, 1)
    assert isinstance(tpe, optuna.samplers.TPESampler) and tpe._n_startup_trials == 3
    grid = build_sampler({"_target_": "optuna.samplers.GridSampler", "seed": None}, space, 1)
    assert isinstance(grid, optuna.samplers.GridSampler)
    assert sampler_name({"_target_": "optuna.samplers.GridSampler"}) == "grid" and sampler_name({"name": "tpe"}) == "tpe"
    with pytest.raises(DialsumError, match="does not accept"):
        build_sampler({"_target_": "optuna.samplers.RandomSampler", "population_size": 4}, space, 1)
    with pytest.raises(DialsumError, match="cannot be imported"):
        build_sampler({"_target_": "optuna.samplers.NoSuchSampler"}, space, 1)
    continuous = parse_space({"x": "interval(0, 1)"}, [])
    with pytest.raises(DialsumError, match="finite"):
        build_sampler({"_target_": "optuna.samplers.GridSampler"}, continuous, 1)


def test_pruners_in_hydra_optuna_sweeper_form() -> None:
    pruner = build_pruner({"_target_": "optuna.pruners.HyperbandPruner", "min_resource": 1, "max_resource": 9})
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    with pytest.raises(DialsumError, match="cannot build"):
        build_pruner({"_target_": "optuna.pruners.MedianPruner", "max_resource": 9})


def test_bootstrap_trials_stop_at_the_first_rung_and_later_ones_compete() -> None:
    """pruner.bootstrap_count=2: two cheap probes at the first evaluation, then the best of the rest goes on."""
    hyperband = build_pruner({"name": "hyperband", "min_resource": 1, "max_resource": 9, "bootstrap_count": 2})
    assert hyperband._bootstrap_count == 2  # handed to each bracket's successive halving (Optuna's code)
    pruner = build_pruner({"name": "successive_halving", "min_resource": 1, "reduction_factor": 3,
                           "bootstrap_count": 2})
    study = optuna.create_study(direction="maximize", pruner=pruner)
    stopped = []
    for value in (0.1, 0.2, 0.9, 0.95):
        trial = study.ask()
        trial.report(value, step=1)
        stopped.append(trial.should_prune())
        study.tell(trial, state=optuna.trial.TrialState.PRUNED if stopped[-1] else None,
                   values=None if stopped[-1] else [value])
    assert stopped == [True, True, False, False]


def test_dialsum_config_is_recognised_and_others_are_not() -> None:
    assert app_profile.is_dialsum_job(compose_cfg())
    assert not app_profile.is_dialsum_job(OmegaConf.create({"x": 1, "trial": {"number": None}}))


def test_foreign_return_values() -> None:
    app = app_profile.AppProfile({"study_name": "s"}, OmegaConf.create({}))
    assert app.values(2, None, ["value"]) == [2.0]
    assert app.values((1, 2.5), None, ["a", "b"]) == [1.0, 2.5]
    assert app.values((1, 2, 3), None, ["a", "b"]) is None and app.values("1", None, ["a", "b"]) is None
    assert app.values(float("nan"), None, ["value"]) is None


def test_custom_search_space_path_errors() -> None:
    with pytest.raises(DialsumError, match="cannot be found"):
        app_profile.resolve_function("no_such_module.configure")
    assert app_profile.resolve_function("os.path.join") is not None
