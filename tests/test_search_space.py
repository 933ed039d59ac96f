"""The search-space syntax users know from hydra-optuna-sweeper, and its validation."""
from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from omegaconf import OmegaConf

from conftest import CONF, compose_cfg
from dialsum.errors import DialsumError
from dialsum.sweep.pruners import build_pruner
from dialsum.sweep.samplers import build_sampler
from dialsum.sweep.search_space import check_keys, parse_space


def test_syntax_forms_map_to_optuna_distributions() -> None:
    space = parse_space({"a": "choice(8, 16)", "b": "interval(0.0, 0.3)", "c": "int(interval(1, 4))",
                         "d": "tag(log, interval(1e-5, 1e-3))", "e": "range(1, 4)", "f": "range(0, 10, 5)"},
                        ["g=x,y", "fixed.key=3"])
    d = space.distributions
    assert d["a"] == CategoricalDistribution([8, 16])
    assert d["b"] == FloatDistribution(0.0, 0.3)
    assert d["c"] == IntDistribution(1, 4)
    assert d["d"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert d["e"] == IntDistribution(1, 3)           # end excluded, like Python's range
    assert d["f"] == IntDistribution(0, 5, step=5)
    assert d["g"] == CategoricalDistribution(["x", "y"])
    assert space.fixed == ["fixed.key=3"]
    assert space.grid["e"] == [1, 2, 3] and space.grid["b"] == []


def test_command_line_overrides_config_params() -> None:
    space = parse_space({"training.learning_rate": "choice(1, 2)"}, ["training.learning_rate=choice(3,4)"])
    assert space.distributions["training.learning_rate"] == CategoricalDistribution([3, 4])


@pytest.mark.parametrize("spec,message", [
    ("interval(0.5, 0.1)", "low > high"),
    ("tag(log, interval(0, 1e-3))", "needs bounds > 0"),
    ("range(5, 1)", "is empty"),
    ("choice()", "search space"),
])
def test_invalid_spaces_are_one_clear_error(spec: str, message: str) -> None:
    with pytest.raises(DialsumError, match=message):
        parse_space({"training.learning_rate": spec}, [])


def test_unknown_key_is_rejected() -> None:
    space = parse_space({"training.learnin_rate": "choice(1e-3, 1e-4)"}, [])
    with pytest.raises(DialsumError, match="'training.learnin_rate' is not a key of the config"):
        check_keys(space, compose_cfg())


def test_known_and_added_keys_pass() -> None:
    space = parse_space({"training.learning_rate": "choice(1e-3)", "model": "choice(kobart, t5)",
                         "+new.key": "choice(1, 2)"}, [])
    check_keys(space, compose_cfg())


@pytest.mark.parametrize("name,cls", [("hyperband", "HyperbandPruner"), ("median", "MedianPruner"),
                                      ("successive_halving", "SuccessiveHalvingPruner"), ("none", "NopPruner")])
def test_pruners_by_name(name: str, cls: str) -> None:
    assert type(build_pruner({"name": name, "min_resource": 1, "max_resource": 6})).__name__ == cls


def test_unknown_pruner() -> None:
    with pytest.raises(DialsumError, match="hyperband"):
        build_pruner({"name": "asha"})


def test_tpe_settings_come_from_the_sweeper_config() -> None:
    sampler_cfg = OmegaConf.load(CONF / "hydra" / "sweeper" / "optuna.yaml").sampler
    space = parse_space({"training.learning_rate": "tag(log, interval(1e-4, 1e-2))"}, [])
    tpe = build_sampler({**sampler_cfg, "seed": 0}, space, 1)
    assert tpe._multivariate and tpe._constant_liar and tpe._n_startup_trials == sampler_cfg.n_startup_trials
    plain = build_sampler({"name": "tpe", "multivariate": False, "constant_liar": False}, space, 1)
    assert not plain._multivariate and not plain._constant_liar


def test_the_name_forms_defaults_are_those_of_the_sweeper_config() -> None:
    """Another app's `sampler: {name: tpe}` / `pruner: {name: ...}` behaves as dialsum's documented defaults."""
    from dialsum.sweep.pruners import DEFAULTS
    from dialsum.sweep.samplers import TPE_DEFAULTS

    sweeper = OmegaConf.load(CONF / "hydra" / "sweeper" / "optuna.yaml")
    assert {k: sweeper.sampler[k] for k in TPE_DEFAULTS} == TPE_DEFAULTS
    assert {k: sweeper.pruner[k] for k in DEFAULTS} == DEFAULTS
    space = parse_space({"training.learning_rate": "tag(log, interval(1e-4, 1e-2))"}, [])
    tpe = build_sampler({"name": "tpe"}, space, 1)
    assert tpe._multivariate and tpe._constant_liar and tpe._n_startup_trials == 4
    median = build_pruner({"name": "median"})
    assert (median._n_startup_trials, median._n_warmup_steps) == (4, 1)


def test_a_searched_length_penalty_under_greedy_decoding_is_named() -> None:
    """length_penalty only weighs beam hypotheses: with num_beams=1 every trial decodes the same."""
    from dialsum.sweep.search_space import idle_dimensions

    space = parse_space({"generation.length_penalty": "interval(0.5, 2.0)"}, [])
    assert "has no effect with generation.num_beams=1" in idle_dimensions(space, compose_cfg([]))[0]
    assert idle_dimensions(space, compose_cfg(["generation.num_beams=4"])) == []
    both = parse_space({"generation.length_penalty": "interval(0.5, 2.0)", "generation.num_beams": "choice(1, 4)"}, [])
    assert idle_dimensions(both, compose_cfg([])) == []
