"""The sweeper's config for any Hydra app: `hydra/sweeper=dialsum_optuna`, registered in Hydra's ConfigStore.

dialsum's own train.py keeps `hydra/sweeper=optuna` (conf/hydra/sweeper/optuna.yaml, dialsum's defaults); this
node serves apps without dialsum's conf/. Field names and the `hydra/sweeper/sampler` / `hydra/sweeper/pruner`
groups follow hydra-optuna-sweeper (`_target_` + the Optuna class's keyword arguments), so its configs work
with only the sweeper name changed. Kept to dataclasses: Hydra imports this module at every start. No
`from __future__ import annotations`: Hydra executes plugin modules outside sys.modules, where dataclasses
cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER_NAME = "dialsum_optuna"
PROVIDER = "dialsum"


@dataclass
class TPESamplerConfig:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    group: bool = False
    constant_liar: bool = True   # Optuna 5's default: running trials count, so parallel workers spread out


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class GridSamplerConfig:
    _target_: str = "optuna.samplers.GridSampler"   # the grid itself comes from `params`
    seed: Optional[int] = None


@dataclass
class NSGAIISamplerConfig:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


@dataclass
class CmaEsSamplerConfig:
    _target_: str = "optuna.samplers.CmaEsSampler"   # needs the `cmaes` package
    seed: Optional[int] = None
    x0: Optional[Dict[str, Any]] = None
    sigma0: Optional[float] = None
    n_startup_trials: int = 1
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: Optional[str] = None
    popsize: Optional[int] = None
    inc_popsize: int = -1
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False


@dataclass
class QMCSamplerConfig:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None
    qmc_type: str = "sobol"
    scramble: bool = False
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


@dataclass
class GPSamplerConfig:
    _target_: str = "optuna.samplers.GPSampler"   # needs torch (a dialsum dependency)
    seed: Optional[int] = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    warn_independent_sampling: bool = True


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"   # set it (steps of a full trial): with "auto" nothing is pruned until one completes
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class DialsumOptunaSweeperConf:
    """hydra-optuna-sweeper's fields, plus pruning, resume and retries (see dialsum's README)."""

    _target_: str = "hydra_plugins.dialsum_sweeper.dialsum_sweeper.DialsumOptunaSweeper"
    _recursive_: bool = False   # the sweeper builds sampler and pruner itself (seed offsets, grid, errors)
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}])
    sampler: Any = MISSING
    pruner: Any = MISSING
    direction: Any = "minimize"            # or a list, one per value the task function returns
    objectives: Optional[List[str]] = None  # names of the objectives (dashboard, report); values are returned
    storage: Optional[str] = None          # null = a journal file in the sweep folder
    study_name: Optional[str] = None       # null = the app's job name (hydra.job.name); same study + storage = resume
    n_trials: int = 20
    n_jobs: int = 1                        # > 1 needs a parallel launcher (hydra/launcher=joblib)
    max_failure_rate: float = 0.5
    params: Optional[Dict[str, Any]] = None
    custom_search_space: Optional[str] = None  # module.function(cfg, trial), called on every asked trial
    skip_duplicates: bool = True
    resume: str = "auto"
    max_retries: int = 1
    retry_failed: bool = False


SAMPLERS = {"tpe": TPESamplerConfig, "random": RandomSamplerConfig, "grid": GridSamplerConfig,
            "nsgaii": NSGAIISamplerConfig, "cmaes": CmaEsSamplerConfig, "qmc": QMCSamplerConfig,
            "gp": GPSamplerConfig}
PRUNERS = {"median": MedianPrunerConfig, "hyperband": HyperbandPrunerConfig,
           "successive_halving": SuccessiveHalvingPrunerConfig, "nop": NopPrunerConfig}


def register() -> None:
    """Store the sweeper node and its sampler/pruner options (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(group="hydra/sweeper", name=SWEEPER_NAME, node=DialsumOptunaSweeperConf, provider=PROVIDER)
    for name, node in SAMPLERS.items():
        cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider=PROVIDER)
    for name, node in PRUNERS.items():
        cs.store(group="hydra/sweeper/pruner", name=name, node=node, provider=PROVIDER)


register()
