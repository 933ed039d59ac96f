"""What the sweeper does differently for dialsum's train.py and for any other Hydra app.

dialsum's train config gets dialsum's checks (value types, GPU slots on `hardware`), objectives by metric name
(`objective.*` overrides, several objectives read from the job's metrics.json) and trial handoff through its
`trial.*` config fields. Any other app gets hydra-optuna-sweeper's behaviour: the task function's return value
is the objective (a sequence of numbers for several directions), and the job finds its trial through
environment variables Hydra sets per job (dialsum.sweep.trial_env), so the app's config is never touched.
A job config is dialsum's when it has dialsum's `trial`, `objective`, `hardware` and `data` sections.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
from omegaconf import DictConfig, OmegaConf

from dialsum.errors import DialsumError
from dialsum.sweep import trial_env, worker_check
from dialsum.sweep.job_folder import rerun_script
from dialsum.sweep.search_space import SearchSpace, check_keys, idle_dimensions
from dialsum.sweep.trial_job import format_value, objective_values, trial_overrides

log = logging.getLogger(__name__)
# Swept keys that change which checkpoint (or how its tokenizer) a trial loads: each trial then checks its own.
CHECKPOINT_KEYS = ("model.init", "model.pretrained_name_or_path", "model.checkpoint", "model.family",
                   "model.decoder_start_token", "model.source_bos")
DIALSUM_MARKERS = ("trial.number", "trial.n_workers", "objective.metric", "hardware.accelerator", "data.source")
NO_GPU_HARDWARE = {"accelerator": "cpu", "trials_per_gpu": 1}  # another app declares no GPU slots to check
_ABSENT = object()


def is_dialsum_job(job_config: DictConfig) -> bool:
    """Does this composed job config come from dialsum's conf/train.yaml?"""
    return all(OmegaConf.select(job_config, key, default=_ABSENT) is not _ABSENT for key in DIALSUM_MARKERS)


def for_job(job_config: DictConfig, settings: dict[str, Any], config: DictConfig,
            config_loader: Any = None) -> "AppProfile":
    """The profile for this sweep's app (settings may get defaults filled in, e.g. study_name)."""
    cls = DialsumApp if is_dialsum_job(job_config) else AppProfile
    profile = cls(settings, config)
    profile.config_loader = config_loader
    return profile


def directions_of(settings: dict[str, Any]) -> list[str]:
    """hydra.sweeper.direction as a list, validated."""
    direction = settings.get("direction") or "minimize"
    directions = [direction] if isinstance(direction, str) else list(direction)
    for d in directions:
        if d not in ("maximize", "minimize"):
            raise DialsumError(f"hydra.sweeper.direction: {d!r} is not maximize or minimize.")
    return directions


class AppProfile:
    """Any Hydra app: plain hydra-optuna-sweeper semantics, plus pruning through dialsum.pruning."""

    dialsum = False

    def __init__(self, settings: dict[str, Any], config: DictConfig) -> None:
        self.settings = settings
        self.config = config
        if not settings.get("study_name"):
            settings["study_name"] = str(config.hydra.job.name)  # a stable name: rerunning resumes
        self.extender = resolve_function(settings.get("custom_search_space"))
        self.directions: list[str] = []
        self.script = rerun_script(sys.argv[0] or "app.py", sys.argv[1:])
        self.config_loader: Any = None  # Hydra's, to tell config groups (db=choice(mysql,pg)) from keys

    def check(self, job_config: DictConfig, space: SearchSpace) -> None:
        """The sweeper's settings; every swept key exists in the app's config (or is added with '+'), or is a
        config group."""
        from dialsum.config_schema import check_sweeper_settings

        check_sweeper_settings(self.settings)
        keys = {k: d for k, d in space.distributions.items() if not self._is_group(k)}
        check_keys(SearchSpace(keys, space.fixed, {}), job_config)

    def _is_group(self, key: str) -> bool:
        """Is `key` one of the app's config groups (swept by option name)?"""
        if self.config_loader is None:
            return False
        try:
            return bool(self.config_loader.get_group_options(key.lstrip("+~")))
        except Exception:  # noqa: BLE001 - not a group (or a loader without groups): check it as a key
            return False

    def check_data(self, job_config: DictConfig, space: SearchSpace, remote: bool) -> None:
        """An app's data is its own business."""

    def check_workers(self, job_config: DictConfig, n_jobs: int, launcher: Any) -> None:
        """One launcher worker per parallel trial; no GPU slots to plan."""
        worker_check.check_workers(OmegaConf.create(NO_GPU_HARDWARE), n_jobs, launcher)

    def objectives(self, job_config: DictConfig) -> tuple[list[str], list[str]]:
        """Directions and objective names (names only label the dashboard and the report)."""
        self.directions = directions_of(self.settings)
        names = list(self.settings.get("objectives") or [])
        if not names:
            names = ["value"] if len(self.directions) == 1 else [f"value_{i}" for i in range(len(self.directions))]
        if len(names) != len(self.directions):
            raise DialsumError(f"hydra.sweeper.objectives has {len(names)} name(s) but direction has "
                               f"{len(self.directions)}; give one direction per objective.")
        return self.directions, names

    def extend_space(self, trial: optuna.Trial) -> None:
        """custom_search_space(cfg, trial): more params, suggested define-by-run on the asked trial (called
        under the sweeper's lock, before duplicates are compared, so the extra params count)."""
        if self.extender is not None:
            self.extender(self.config, trial)

    def trial_overrides(self, fixed: list[str], params: dict[str, Any], number: int, study_name: str,
                        storage_url: str, n_jobs: int, cpu_share: Any = None) -> list[str]:
        """The fixed overrides, the params, and the trial's address in the job's environment (an app's own
        threads are its business: cpu_share is for dialsum's training loop)."""
        pruner = self.settings.get("pruner") if len(self.directions) == 1 else None
        return list(fixed) + [f"{k}={format_value(v)}" for k, v in params.items()] + trial_env.env_overrides(
            number, study_name, storage_url, pruner)

    def values(self, returned: Any, job_dir: str | None, objectives: list[str]) -> list[float] | None:
        """A number for one direction, a sequence of as many numbers as directions for several."""
        if len(objectives) == 1:
            return _finite([returned])
        if isinstance(returned, (str, bytes)):
            return None
        try:
            values = list(returned)
        except TypeError:
            return None
        return _finite(values) if len(values) == len(objectives) else None

    def bad_value(self, returned: Any, n: int) -> str:
        """Why a returned value is not an objective."""
        wanted = "a finite number" if n == 1 else f"a sequence of {n} finite numbers (one per direction)"
        return f"the task function returned {returned!r}; the sweeper needs {wanted}"


class DialsumApp(AppProfile):
    """dialsum's train.py: metric names, checked config, GPU slots, trial.* fields."""

    dialsum = True

    def __init__(self, settings: dict[str, Any], config: DictConfig) -> None:
        super().__init__(settings, config)
        self.script = rerun_script("train.py", sys.argv[1:])
        self.objective_overrides: list[str] = []

    def check(self, job_config: DictConfig, space: SearchSpace) -> None:
        """dialsum's value types (a mistyped fixed value would fail every trial: refuse it now), then keys."""
        from dialsum.config_schema import check_sweep_config

        check_sweep_config(self.settings, job_config, space.distributions)
        check_keys(space, job_config)
        for warning in idle_dimensions(space, job_config):
            log.warning("%s", warning)

    def check_data(self, job_config: DictConfig, space: SearchSpace, remote: bool) -> None:
        """Load the trials' data once, as a trial does: a bad file is one error before the study exists, not the
        same failure in every trial. Locally this also prepares the cache the trials then read."""
        from dialsum.data.splits import load_splits

        self._check_checkpoint(job_config, space, remote)
        if any(k.lstrip("+~") == "data" or k.lstrip("+~").startswith("data.") for k in space.distributions):
            return  # swept data: each trial loads its own
        data = job_config.data
        if data.source != "csv":
            return  # dialsum's own synthetic set: nothing a user could get wrong
        if remote and not all(Path(str(data.get(k) or "")).is_file() for k in ("train_path", "val_path")):
            return  # SLURM nodes may see files this login node does not
        load_splits(data, None if remote else Path(job_config.paths.cache_dir), with_test=False)

    @staticmethod
    def _check_checkpoint(job_config: DictConfig, space: SearchSpace, remote: bool) -> None:
        """A pretrained checkpoint every trial loads: its tokenizer and settings checked once (a mistyped path
        failed every trial, and the fixed rerun was then refused as another experiment)."""
        from dialsum.models.checkpoint import check_loadable
        from dialsum.models.registry import get_family

        model = job_config.model
        swept = any("." not in k or k.lstrip("+~").startswith(CHECKPOINT_KEYS)  # a group (model=, experiment=)
                    for k in space.distributions)
        if swept or model.init != "pretrained" or (remote and not Path(str(model.pretrained_name_or_path)).exists()):
            return  # each trial checks its own; a cluster node may see a folder this machine does not
        check_loadable(model, get_family(model.family), int(job_config.generation.max_new_tokens))

    def check_workers(self, job_config: DictConfig, n_jobs: int, launcher: Any) -> None:
        """GPU slots from hardware; launcher workers = n_jobs."""
        worker_check.check_workers(job_config.hardware, n_jobs, launcher)

    def objectives(self, job_config: DictConfig) -> tuple[list[str], list[str]]:
        """Directions and the metric each one reads; a single objective is what the job returns."""
        from dialsum.engine.metric_names import check_objective

        self.directions = directions_of({"direction": self.settings.get("direction", "maximize")})
        objectives = list(self.settings.get("objectives") or [job_config.objective.metric])
        if len(objectives) != len(self.directions):
            raise DialsumError(f"hydra.sweeper.objectives has {len(objectives)} metric(s) but direction has "
                               f"{len(self.directions)}; give one direction per objective.")
        if len(objectives) == 1:  # the job optimises, prunes on and returns objective.metric: make it this one
            direction = self.directions[0]
            try:
                check_objective(objectives[0], direction)
            except DialsumError as err:
                raise DialsumError(f"single objective {objectives[0]!r}: each trial optimises, prunes on and returns "
                                   f"it, so it must be an eval/* metric ({err}) Other metrics (peak_rss_mb) work "
                                   "as one of several objectives.") from None
            if (objectives[0], direction) != (job_config.objective.metric, job_config.objective.direction):
                self.objective_overrides = [f"objective.metric={objectives[0]}", f"objective.direction={direction}"]
                log.info("single objective %s (%s): every trial runs with %s", objectives[0], direction,
                         " ".join(self.objective_overrides))
        return self.directions, objectives

    def trial_overrides(self, fixed: list[str], params: dict[str, Any], number: int, study_name: str,
                        storage_url: str, n_jobs: int, cpu_share: Any = None) -> list[str]:
        """dialsum's jobs read their trial from the trial.* config fields (and record it in their config)."""
        return trial_overrides(fixed, params, number, study_name, storage_url, n_jobs, self.objective_overrides,
                               cpu_share)

    def values(self, returned: Any, job_dir: str | None, objectives: list[str]) -> list[float] | None:
        """One objective: the returned metric; several: read by name from the job's metrics.json."""
        return objective_values(returned, job_dir, objectives)


def _finite(values: Sequence[Any]) -> list[float] | None:
    """Floats when every value is a finite number."""
    import math

    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def resolve_function(path: str | None) -> Callable[[DictConfig, optuna.Trial], None] | None:
    """`module.function`, or hydra-optuna-sweeper's `.script-name.function` (relative to the app's script)."""
    if not path:
        return None
    import importlib

    dotted = str(path).lstrip(".")
    module_name, _, name = dotted.rpartition(".")
    main = sys.modules.get("__main__")
    main_stem = Path(getattr(main, "__file__", "") or "").stem
    try:
        module = main if module_name == main_stem and main is not None else importlib.import_module(module_name)
        function = getattr(module, name)
    except (ImportError, AttributeError, ValueError) as err:
        raise DialsumError(f"hydra.sweeper.custom_search_space={path!r} cannot be found ({err}); give "
                           "module.function, importable from where the app runs.") from None
    if not callable(function):
        raise DialsumError(f"hydra.sweeper.custom_search_space={path!r} is not a function.")
    return function
