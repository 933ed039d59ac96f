"""Optuna samplers by name, checked against the search space."""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import optuna

from dialsum.errors import DialsumError
from dialsum.sweep.search_space import SearchSpace

SAMPLERS = ("tpe", "random", "grid", "nsga2")
# The settings each sampler reads (a study records only these).
SAMPLER_KEYS = {"tpe": ("seed", "n_startup_trials", "multivariate", "constant_liar"), "random": ("seed",),
                "grid": ("seed",), "nsga2": ("seed",)}


def build_sampler(cfg: Mapping[str, Any], space: SearchSpace, n_objectives: int,
                  seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """Sampler from config; grid needs a finite space, TPE/random work for one or several objectives.

    A fixed seed is offset by the trials the study already holds, so a resumed sweep stays reproducible
    without replaying the proposals it made before."""
    name, seed = cfg.get("name", "tpe"), cfg.get("seed")
    if seed is not None:
        seed = int(seed) + seed_offset
    if name == "tpe":
        return _tpe(cfg, seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "grid":
        continuous = [k for k, values in space.grid.items() if not values]
        if continuous:
            raise DialsumError(f"sampler grid needs finite parameters; {continuous} are continuous "
                               "(use choice(...) or range(...)).")
        return optuna.samplers.GridSampler(space.grid, seed=seed)
    raise DialsumError(f"sampler.name={name!r} is unknown; choose one of {SAMPLERS}.")


def grid_size(space: SearchSpace) -> int:
    """Number of grid points."""
    size = 1
    for values in space.grid.values():
        size *= max(1, len(values))
    return size


def _tpe(cfg: Mapping[str, Any], seed: int | None) -> optuna.samplers.TPESampler:
    """TPE; multivariate models lr x batch-size interactions, constant_liar keeps parallel workers apart."""
    with warnings.catch_warnings():  # both options are stable in use but still flagged experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(cfg.get("n_startup_trials", 10)),
                                          multivariate=bool(cfg.get("multivariate", False)),
                                          constant_liar=bool(cfg.get("constant_liar", False)))
