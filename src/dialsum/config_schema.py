"""Types and ranges of the config values users type, checked before any work starts.

OmegaConf structured configs do the checking (a dataclass per section; `OmegaConf.merge` rejects a value
that cannot be its field's type). Only the keys listed here are checked, so a key another part of dialsum
adds to conf/ works before it is listed; unknown key *names* are already refused by Hydra's struct mode
(and unknown training keys by dialsum.engine.trainer.training_arguments).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ValidationError

from dialsum.errors import DialsumError


@dataclass
class TrainingSchema:
    learning_rate: float = 1e-3
    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    num_train_epochs: float = 8
    max_steps: int = -1
    warmup_steps: Optional[float] = None
    warmup_ratio: Optional[float] = 0.05
    weight_decay: float = 0.01
    label_smoothing_factor: float = 0.0
    lr_scheduler_type: str = "linear"
    max_grad_norm: float = 1.0
    seed: int = 42
    eval_strategy: str = "steps"
    eval_steps: Optional[float] = None
    save_strategy: str = "steps"
    save_steps: Optional[float] = None
    save_total_limit: Optional[int] = None
    logging_steps: float = 25
    dataloader_num_workers: Optional[int] = None
    disable_tqdm: bool = True
    auto_find_batch_size: bool = False
    early_stopping_patience: Optional[int] = None
    early_stopping_threshold: float = 0.0


@dataclass
class GenerationSchema:
    num_beams: int = 1
    max_new_tokens: int = 80
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    batch_size: int = 64
    grow_factor: Optional[float] = None


@dataclass
class ModelSchema:
    init: str = "scratch"
    max_source_length: int = 256
    max_target_length: int = 80
    dropout: float = 0.1


@dataclass
class LoggerSchema:
    name: str = "none"
    mode: Optional[str] = None
    log_examples: int = 4


@dataclass
class SyntheticSchema:
    n_train: int = 2000
    n_val: int = 240
    n_test: int = 200
    seed: int = 1234
    dir: str = ""


@dataclass
class DataSchema:
    name: str = ""
    source: str = "synthetic"
    train_path: Optional[str] = None
    val_path: Optional[str] = None
    test_path: Optional[str] = None
    max_train_samples: Optional[int] = None
    max_val_samples: Optional[int] = None
    normalization: str = "light"
    min_val_rows: int = 0
    min_val_fraction: float = 0.0
    synthetic: Optional[SyntheticSchema] = None


@dataclass
class HardwareSchema:
    accelerator: str = "cpu"
    fp16: bool = False
    bf16: bool = False
    precision: Optional[str] = None
    gradient_checkpointing: bool = False
    torch_threads: Optional[int] = None
    devices: Optional[List[int]] = None
    trials_per_gpu: int = 1


@dataclass
class SamplerSchema:
    name: str = "tpe"
    seed: Optional[int] = None
    n_startup_trials: int = 4
    multivariate: bool = True
    constant_liar: bool = True


@dataclass
class PrunerSchema:
    name: str = "successive_halving"
    min_resource: int = 1
    max_resource: int = 6
    reduction_factor: int = 3
    bootstrap_count: int = 0
    n_startup_trials: int = 4
    n_warmup_steps: int = 1


@dataclass
class BudgetSchema:
    steps: Optional[int] = None
    hours: Optional[float] = None


@dataclass
class SweeperSchema:
    study_name: str = ""
    storage: Optional[str] = None
    direction: Any = "maximize"
    objectives: Optional[List[str]] = None
    n_trials: int = 8
    n_jobs: int = 1
    max_failure_rate: float = 0.5
    skip_duplicates: bool = True
    resume: str = "auto"
    max_retries: int = 1
    retry_failed: bool = False
    heartbeat_interval: int = 10
    grace_period: int = 60
    share_idle_cores: bool = True
    sampler: SamplerSchema = field(default_factory=SamplerSchema)
    pruner: PrunerSchema = field(default_factory=PrunerSchema)
    budget: BudgetSchema = field(default_factory=BudgetSchema)
    params: Optional[Dict[str, Any]] = None


SECTIONS = {"training": TrainingSchema, "generation": GenerationSchema, "data": DataSchema,
            "hardware": HardwareSchema, "model": ModelSchema, "logger": LoggerSchema}
CHOICES = {"hardware.accelerator": ("cpu", "cuda"), "data.source": ("synthetic", "csv"),
           "data.normalization": ("none", "light", "medium"), "hydra.sweeper.resume": ("auto", "force"),
           "model.init": ("scratch", "pretrained"), "logger.mode": ("offline", "online", "disabled"),
           "hydra.sweeper.sampler.name": ("tpe", "random", "grid", "nsga2"),
           "hydra.sweeper.pruner.name": ("hyperband", "median", "successive_halving", "none")}
# (low, high, low itself allowed): a value outside fails every run (or trains nothing), often only after training,
# so it is refused up front. None = unbounded on that side; the high bound itself is allowed.
POSITIVE, AT_LEAST_0, AT_LEAST_1, SHARE = (0, None, False), (0, None, True), (1, None, True), (0, 1, True)
BOUNDS = {
    "training.learning_rate": POSITIVE, "training.per_device_train_batch_size": AT_LEAST_1,
    "training.per_device_eval_batch_size": AT_LEAST_1, "training.gradient_accumulation_steps": AT_LEAST_1,
    "training.weight_decay": AT_LEAST_0, "training.label_smoothing_factor": SHARE, "training.max_grad_norm": AT_LEAST_0,
    "training.warmup_steps": AT_LEAST_0, "training.warmup_ratio": SHARE, "training.eval_steps": POSITIVE,
    "training.save_steps": POSITIVE, "training.logging_steps": POSITIVE, "training.dataloader_num_workers": AT_LEAST_0,
    "training.save_total_limit": AT_LEAST_1, "training.early_stopping_patience": AT_LEAST_1,
    "generation.num_beams": AT_LEAST_1, "generation.no_repeat_ngram_size": AT_LEAST_0,
    "generation.batch_size": AT_LEAST_1, "generation.grow_factor": AT_LEAST_1, "generation.max_new_tokens": AT_LEAST_1,
    "model.max_source_length": (16, None, True),  # below this no dialogue turn fits beside prefix and specials
    "model.max_target_length": (4, None, True), "model.dropout": SHARE,
    "data.max_train_samples": AT_LEAST_1, "data.max_val_samples": AT_LEAST_1, "data.min_val_rows": AT_LEAST_0,
    "data.min_val_fraction": SHARE, "hardware.torch_threads": AT_LEAST_1, "hardware.trials_per_gpu": AT_LEAST_1,
    "logger.log_examples": AT_LEAST_0,
    "hydra.sweeper.n_trials": AT_LEAST_1, "hydra.sweeper.n_jobs": AT_LEAST_1, "hydra.sweeper.max_retries": AT_LEAST_0,
    "hydra.sweeper.max_failure_rate": (0, None, True), "hydra.sweeper.heartbeat_interval": POSITIVE,
    "hydra.sweeper.grace_period": POSITIVE, "hydra.sweeper.sampler.n_startup_trials": AT_LEAST_0,
    "hydra.sweeper.pruner.min_resource": AT_LEAST_1, "hydra.sweeper.pruner.max_resource": AT_LEAST_1,
    "hydra.sweeper.pruner.reduction_factor": (2, None, True), "hydra.sweeper.pruner.bootstrap_count": AT_LEAST_0,
}  # hydra.sweeper.budget checks itself (sweep/budget.py)


def check_job_config(cfg: DictConfig) -> None:
    """training, generation, data and hardware: every mistyped value named with its expected type."""
    _raise(job_problems(cfg))


def check_sweep_config(settings: dict[str, Any], job_cfg: DictConfig, space: dict[str, Any]) -> None:
    """hydra.sweeper's settings (resolved), the trials' fixed job config and the searched values, before any trial."""
    from dialsum.space_schema import space_problems  # it reads this module's schemas

    _raise(section_problems("hydra.sweeper", settings, SweeperSchema) + job_problems(job_cfg)
           + space_problems(space))


def check_section(prefix: str, values: dict[str, Any], schema: type) -> None:
    """One section on its own, e.g. the generation settings predict.py puts together."""
    _raise(section_problems(prefix, values, schema))


def check_sweeper_settings(settings: dict[str, Any]) -> None:
    """hydra.sweeper's own settings, whatever app the sweep runs."""
    _raise(section_problems("hydra.sweeper", settings, SweeperSchema))


def job_problems(cfg: DictConfig) -> list[str]:
    """Problems in the job config sections users type values into."""
    problems: list[str] = []
    for section, schema in SECTIONS.items():
        if section in cfg:
            problems += section_problems(section, OmegaConf.to_container(cfg[section], resolve=True), schema)
    from dialsum.engine.checkpoints import step_problems

    return problems + (step_problems(cfg.training) if "training" in cfg and not problems else [])


def section_problems(prefix: str, values: dict[str, Any], schema: type) -> list[str]:
    """One line per value that is not of its field's type (or not one of its choices)."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    problems = []
    for key, value in (values or {}).items():
        if key not in fields:
            continue
        name = f"{prefix}.{key}"
        nested = _nested_schema(hints[key])
        if nested is not None and isinstance(value, dict):
            problems += section_problems(name, value, nested)
            continue
        if refuses(schema, key, value):
            problems.append(f"{name}={value!r}: expected {type_name(hints[key])}")
            continue
        if name in CHOICES and value is not None and value not in CHOICES[name]:
            problems.append(f"{name}={value!r}: expected one of {', '.join(CHOICES[name])}")
        if name in BOUNDS and isinstance(value, (int, float)) and not isinstance(value, bool) and outside(name, value):
            problems.append(f"{name}={value!r}: expected {range_text(name)}")
    return problems


def refuses(schema: type, field: str, value: Any) -> bool:
    """The field's type does not take the value (OmegaConf's own validation, as for a config file)."""
    try:
        OmegaConf.merge(OmegaConf.structured(schema), {field: value})
    except ValidationError:
        return True
    return False


def outside(name: str, value: float) -> bool:
    """Whether value breaks the key's BOUNDS."""
    low, high, low_allowed = BOUNDS[name]
    return value < low or (value == low and not low_allowed) or (high is not None and value > high)


def range_text(name: str) -> str:
    """BOUNDS as words: 'a number > 0', 'a number >= 1', 'a number in [0, 1]'."""
    low, high, low_allowed = BOUNDS[name]
    if high is not None:
        return f"a number in {'[' if low_allowed else '('}{low}, {high}]"
    return f"a number {'>=' if low_allowed else '>'} {low}"


def _nested_schema(hint: Any) -> type | None:
    """The dataclass behind a field (Optional[SyntheticSchema] -> SyntheticSchema)."""
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def type_name(hint: Any) -> str:
    """`Optional[int]` -> 'an integer (or null)'."""
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) is typing.Union and args else hint
    if typing.get_origin(base) in (list, List):
        inner = typing.get_args(base)
        text = f"a list of {names.get(inner[0], 'values').split(' ', 1)[1]}s" if inner else "a list"
    else:
        text = names.get(base, str(base))
    return text + (" (or null)" if type(None) in typing.get_args(hint) else "")


def _raise(problems: list[str]) -> None:
    """One message for all problems, so the user fixes them in one go."""
    if problems:
        raise DialsumError("config values dialsum cannot use:\n  " + "\n  ".join(problems)
                           + "\nFix them on the command line or in conf/ (see the comments there).")
