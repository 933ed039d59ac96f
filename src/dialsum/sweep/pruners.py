"""Pruners by name, configured the way W&B users know hyperband (resource = evaluations)."""
from __future__ import annotations

from typing import Any, Mapping

import optuna

from dialsum.errors import DialsumError

PRUNERS = ("hyperband", "median", "successive_halving", "none")
# The settings each pruner reads (a study records only these: the others cannot change its results).
PRUNER_KEYS = {"hyperband": ("min_resource", "max_resource", "reduction_factor", "bootstrap_count"),
               "median": ("n_startup_trials", "n_warmup_steps"),
               "successive_halving": ("min_resource", "reduction_factor", "bootstrap_count"), "none": ()}

# The `name:` form's defaults, those of conf/hydra/sweeper/optuna.yaml (a test keeps the two equal), for apps
# that name a pruner without dialsum's conf/.
DEFAULTS = {"min_resource": 1, "max_resource": 6, "reduction_factor": 3, "bootstrap_count": 0,
            "n_startup_trials": 4, "n_warmup_steps": 1}


def build_pruner(cfg: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """Pruner from config; Optuna does not store it in the study, so jobs build the same one."""
    cfg = dict(cfg or {})
    if cfg.get("_target_"):
        return _from_target(cfg)
    name = cfg.pop("name", "none")
    cfg = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    if name == "hyperband":
        # max_resource must be explicit: with "auto" nothing is pruned until a trial completes.
        return optuna.pruners.HyperbandPruner(min_resource=int(cfg["min_resource"]),
                                              max_resource=int(cfg["max_resource"]),
                                              reduction_factor=int(cfg["reduction_factor"]),
                                              bootstrap_count=int(cfg["bootstrap_count"]))
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=int(cfg["n_startup_trials"]),
                                           n_warmup_steps=int(cfg["n_warmup_steps"]))
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=int(cfg["min_resource"]),
                                                      reduction_factor=int(cfg["reduction_factor"]),
                                                      bootstrap_count=int(cfg["bootstrap_count"]))
    if name == "none":
        return optuna.pruners.NopPruner()
    raise DialsumError(f"pruner.name={name!r} is unknown; choose one of {PRUNERS}.")


def _from_target(cfg: dict[str, Any]) -> optuna.pruners.BasePruner:
    """hydra-optuna-sweeper's form: `_target_: optuna.pruners.MedianPruner` + keyword arguments."""
    from hydra.utils import get_class

    target = str(cfg.pop("_target_"))
    kwargs = {k: v for k, v in cfg.items() if k not in ("_partial_", "_recursive_", "_convert_", "name")}
    try:
        return get_class(target)(**kwargs)
    except Exception as err:  # noqa: BLE001 - import or argument errors, both the user's config
        raise DialsumError(f"hydra.sweeper.pruner: cannot build {target} with {kwargs} ({err}); use an Optuna "
                           "pruner class and its arguments, e.g. hydra/sweeper/pruner=median.") from None
