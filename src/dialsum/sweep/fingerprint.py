"""What defines a study, recorded in it, so a rerun resumes only the same experiment.

A study is the composed job config (minus what cannot change results), the search space, the data's
identity (content hash of the CSVs, or the synthetic generator's settings), the objectives and the sampler
and pruner settings. A rerun whose fingerprint differs stops before training and says what differs;
`hydra.sweeper.resume=force` continues anyway. Optuna stores no such thing itself (study user attributes are
its place for it); comparing and reporting is written here.
"""
from __future__ import annotations

import hashlib
import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import optuna
from omegaconf import DictConfig, OmegaConf, open_dict

from dialsum.errors import DialsumError
from dialsum.sweep.pruners import PRUNER_KEYS
from dialsum.sweep.samplers import SAMPLER_KEYS
from dialsum.sweep.search_space import SearchSpace

log = logging.getLogger(__name__)

STUDY_ATTR = "dialsum_fingerprint"
HISTORY_ATTR = "dialsum_fingerprint_history"
RESUME_MODES = ("auto", "force")
# Config keys that do not define the experiment: where things are written, logging, which device, how many
# workers share the machine, and data *paths* (the data itself is identified by content hash). Caveat, measured
# (BENCHMARKS.md): on the CPU the torch thread count (hardware.torch_threads, or cores / workers) does change a
# trial's numbers; it stays out so a resume with another n_jobs is allowed, and each trial records its own count
# (user attr torch_threads), which its rerun command pins.
IGNORED_PREFIXES = ("paths.", "trial.", "logger.", "artifacts.", "task_name", "hardware.devices",
                    "hardware.torch_threads", "hardware.trials_per_gpu", "data.train_path", "data.val_path", "data.test_path",
                    "data.synthetic.dir", "training.logging_steps", "training.disable_tqdm",
                    "training.dataloader_num_workers", "training.save_total_limit")
MAX_LISTED = 12  # differences shown in the error message
# Settings added by later dialsum versions, with the value that behaves like their absence: a study recorded
# before them still resumes while they keep that value.
ADDED_LATER = {"pruner.bootstrap_count": 0, "config.generation.grow_factor": None,
               "config.training.train_sampling_strategy": "random"}
# Defaults a later dialsum version changed (key: old default, new default, override that brings the old one back),
# named in the error.
DEFAULTS_CHANGED = {"pruner.name": ("hyperband", "successive_halving", "hydra.sweeper.pruner.name=hyperband"),
                    "config.metric.composite.repetition_penalty": (0.0, 0.5, "metric.composite.repetition_penalty=0.0")}


def dialsum_version() -> str:
    """Installed dialsum version (a difference only warns: most releases do not change results)."""
    try:
        return metadata.version("dialsum")
    except metadata.PackageNotFoundError:
        return "unknown"


def build(job_config: DictConfig, space: SearchSpace, settings: Mapping[str, Any], directions: list[str],
          objectives: list[str], dialsum_app: bool = True) -> dict[str, Any]:
    """The study's defining settings as a flat, JSON-able dict of `key -> value`.

    Another Hydra app's study is its composed config (minus Hydra's section), space, objectives, sampler and
    pruner: dialsum's ignored keys and data hash only apply to dialsum's own train config."""
    config = _resolved_job_part(job_config)
    swept = tuple(space.distributions)
    ignored = IGNORED_PREFIXES if dialsum_app else ()
    flat = {f"config.{k}": v for k, v in flatten(config).items()
            if not k.startswith(ignored) and not _under(k, swept)}
    flat.update({f"space.{k}": optuna.distributions.distribution_to_json(d) for k, d in space.distributions.items()})
    if dialsum_app:
        flat["data"] = data_identity(job_config.data)
    flat["objectives"] = list(zip(objectives, directions))
    flat.update(_component("sampler", settings.get("sampler"), SAMPLER_KEYS, "tpe"))
    if len(directions) == 1:  # multi-objective studies never prune
        flat.update(_component("pruner", settings.get("pruner"), PRUNER_KEYS, "none"))
    return {"settings": flat, "fixed_overrides": list(space.fixed), "version": dialsum_version()}


def _component(kind: str, cfg: Mapping[str, Any] | None, keys: Mapping[str, tuple[str, ...]],
               default: str) -> dict[str, Any]:
    """Sampler/pruner settings that change results: dialsum's `{name: ...}` keys, or every `_target_` argument."""
    cfg = dict(cfg or {})
    if cfg.get("_target_"):
        return {f"{kind}.{k}": v for k, v in sorted(cfg.items())}
    name = cfg.get("name", default)
    return {f"{kind}.{k}": cfg.get(k) for k in ("name", *keys.get(name, ()))}


def _resolved_job_part(job_config: DictConfig) -> dict[str, Any]:
    """The job's config without Hydra's own section (which only resolves inside a running job)."""
    job = job_config.copy()
    with open_dict(job):
        job.pop("hydra", None)
    try:
        return OmegaConf.to_container(job, resolve=True)
    except Exception:  # noqa: BLE001 - an interpolation only a running job can resolve: compare it as written
        return OmegaConf.to_container(job, resolve=False)


def short_hash(fingerprint: Mapping[str, Any]) -> str:
    """A trial-level tag: trials with the same tag ran the same experiment (duplicate reuse checks it)."""
    blob = json.dumps(fingerprint["settings"], sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def data_identity(data_cfg: DictConfig) -> str:
    """Hash of the train/val CSV bytes (the same data under another path is the same study)."""
    if data_cfg.get("source") != "csv":
        from dialsum.data.synthetic import GENERATOR_VERSION

        return f"synthetic v{GENERATOR_VERSION}"  # sizes and seed are config keys, compared with the rest
    digest = hashlib.sha256()
    for key in ("train_path", "val_path"):
        path = Path(str(data_cfg.get(key)))
        if not path.is_file():
            return f"missing {key}: {path}"  # the trials fail with the data error; nothing to compare
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return "csv sha256:" + digest.hexdigest()[:16]


def check_resume(study: optuna.Study, current: dict[str, Any], mode: str) -> bool:
    """On resume compare with the study's recorded settings, writing nothing (a refused run must leave a shared
    study as it was: record_settings follows once every check passed). True when a mismatch was forced."""
    if mode not in RESUME_MODES:
        raise DialsumError(f"hydra.sweeper.resume={mode!r}: use one of {RESUME_MODES}.")
    stored = study.user_attrs.get(STUDY_ATTR)
    if stored is None:
        if study.get_trials(deepcopy=False):
            log.warning("study %s was created before dialsum recorded study settings: cannot check that this "
                        "run matches it (treated as unknown); recording this run's settings from now on",
                        study.study_name)
        return False
    if stored.get("version") != current["version"]:
        log.warning("study %s was started with dialsum %s, this is %s: resuming (results may differ slightly)",
                    study.study_name, stored.get("version"), current["version"])
    changes = differences(stored["settings"], current["settings"])
    if not changes:
        return False
    listed = "\n  ".join(changes[:MAX_LISTED]) + (f"\n  ... and {len(changes) - MAX_LISTED} more"
                                                   if len(changes) > MAX_LISTED else "")
    if mode != "force":
        raise DialsumError(
            f"study {study.study_name!r} already exists with different settings, so this is not a resume of "
            f"the same experiment (the study holds {len(study.trials)} trial(s)):\n  {listed}\n"
            f"{_overrides_line(stored, current)}{_old_defaults(stored['settings'], current['settings'])}"
            "Either start a new study (hydra.sweeper.study_name=<new name>), or continue this one with "
            "hydra.sweeper.resume=force: its earlier trials then keep their results, count toward n_trials "
            "and can stay the best although they ran under the old settings; duplicates are reused only from "
            "trials with the new settings.")
    log.warning("hydra.sweeper.resume=force: study %s continues under changed settings:\n  %s",
                study.study_name, listed)
    return True


def record_settings(study: optuna.Study, current: dict[str, Any], forced: bool) -> None:
    """The run's settings into a new study, or (resume=force) in place of the earlier ones, which go to the
    study's history."""
    stored = study.user_attrs.get(STUDY_ATTR)
    if stored is not None and not forced:
        return
    if stored is not None:
        study.set_user_attr(HISTORY_ATTR, list(study.user_attrs.get(HISTORY_ATTR) or []) + [stored])
    study.set_user_attr(STUDY_ATTR, current)


def _overrides_line(stored: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """The fixed overrides then and now, when they differ (a changed sampler or space leaves them equal)."""
    then, now = (" ".join(x.get("fixed_overrides") or []) or "(none)" for x in (stored, current))
    return f"Overrides then: {then}; now: {now}\n" if then != now else ""


def _old_defaults(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A line per changed default the study ran under: how to resume it as it was."""
    return "".join(f"dialsum's default {key} is now {now}; the study ran under the old default {then}: add {fix} "
                   "to resume it as it was.\n"
                   for key, (then, now, fix) in DEFAULTS_CHANGED.items()
                   if old.get(key) == then and new.get(key) == now)


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """`key: old -> new` for every setting that changed, was added or removed."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, ADDED_LATER.get(key, "<absent>")), new.get(key, "<absent>")
        if _canonical(a) != _canonical(b):
            out.append(f"{key}: {_shown(a)} -> {_shown(b)}")
    return out


def _canonical(value: Any) -> str:
    """JSON form, so tuples from this run equal lists read back from storage."""
    return json.dumps(value, sort_keys=True, default=str)


def _shown(value: Any) -> str:
    """A value as the user wrote it (null, 20, [a, b]); strings unquoted."""
    return value if isinstance(value, str) else _canonical(value)


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted keys (lists stay values)."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        out.update(flatten(value, dotted) if isinstance(value, dict) and value else {dotted: value})
    return out


def _under(key: str, swept: tuple[str, ...]) -> bool:
    """Is `key` a swept key, or inside a swept config group (model=choice(kobart,t5))?"""
    return any(key == s.lstrip("+") or key.startswith(s.lstrip("+") + ".") for s in swept)
