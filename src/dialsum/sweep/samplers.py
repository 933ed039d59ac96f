"""Optuna samplers by name, checked against the search space."""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import optuna

from dialsum.errors import DialsumError
from dialsum.sweep.search_space import SearchSpace

SAMPLERS = ("tpe", "random", "grid", "nsga2")
# The `name: tpe` form's defaults, those of conf/hydra/sweeper/optuna.yaml (a test keeps the two equal); the
# `_target_` form keeps Optuna's own, as hydra-optuna-sweeper does.
TPE_DEFAULTS = {"n_startup_trials": 4, "multivariate": True, "constant_liar": True}
# hydra-optuna-sweeper's form (`_target_: optuna.samplers.TPESampler` + keyword arguments), by class name.
TARGET_NAMES = {"TPESampler": "tpe", "RandomSampler": "random", "GridSampler": "grid", "NSGAIISampler": "nsga2"}
NOT_KWARGS = ("_target_", "_partial_", "_recursive_", "_convert_", "name")
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
    if cfg.get("_target_"):
        return _from_target(cfg, space, seed)
    if name == "tpe":
        return _tpe(cfg, seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(_finite_grid(space), seed=seed)
    raise DialsumError(f"sampler.name={name!r} is unknown; choose one of {SAMPLERS}.")


def sampler_name(cfg: Mapping[str, Any] | None) -> str:
    """dialsum's name for either form: `{name: grid}` or `{_target_: optuna.samplers.GridSampler}`."""
    cfg = cfg or {}
    target = cfg.get("_target_")
    if not target:
        return str(cfg.get("name", "tpe"))
    cls = str(target).rsplit(".", 1)[-1]
    return TARGET_NAMES.get(cls, cls)


def _from_target(cfg: Mapping[str, Any], space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    """hydra-optuna-sweeper's `_target_` form; GridSampler gets its grid from the search space."""
    from hydra.utils import get_class

    target = str(cfg["_target_"])
    kwargs = {k: v for k, v in cfg.items() if k not in NOT_KWARGS}
    if "seed" in cfg:
        kwargs["seed"] = seed
    try:
        cls = get_class(target)
    except Exception as err:  # noqa: BLE001 - hydra raises ImportError/ValueError with the reason
        raise DialsumError(f"hydra.sweeper.sampler._target_={target!r} cannot be imported ({err}); use an Optuna "
                           "sampler class, e.g. optuna.samplers.TPESampler, or hydra/sweeper/sampler=tpe.") from None
    args = (_finite_grid(space),) if cls is optuna.samplers.GridSampler else ()
    with warnings.catch_warnings():  # multivariate/group/constant_liar are flagged experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return cls(*args, **kwargs)
        except TypeError as err:
            raise DialsumError(f"hydra.sweeper.sampler: {target} does not accept these settings ({err}); "
                               f"remove or rename the key.") from None


def _finite_grid(space: SearchSpace) -> dict[str, list[Any]]:
    """The grid of a space whose parameters are all finite."""
    continuous = [k for k, values in space.grid.items() if not values]
    if continuous:
        raise DialsumError(f"sampler grid needs finite parameters; {continuous} are continuous "
                           "(use choice(...) or range(...)).")
    return space.grid


def grid_size(space: SearchSpace) -> int:
    """Number of grid points."""
    size = 1
    for values in space.grid.values():
        size *= max(1, len(values))
    return size


def _tpe(cfg: Mapping[str, Any], seed: int | None) -> optuna.samplers.TPESampler:
    """TPE; multivariate models lr x batch-size interactions, constant_liar keeps parallel workers apart."""
    cfg = {**TPE_DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    with warnings.catch_warnings():  # both options are stable in use but still flagged experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(cfg["n_startup_trials"]),
                                          multivariate=bool(cfg["multivariate"]),
                                          constant_liar=bool(cfg["constant_liar"]))
