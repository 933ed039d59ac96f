"""`dialsum export-best <sweep_dir> --name NAME`: conf/experiment/NAME.yaml that retrains the sweep's best trial.

`python train.py experiment=NAME` then gives the best job's config: its non-default group choices (defaults
list), its fixed overrides and its sampled params (nested keys). With full_data the debug preset and the
sample caps are left out, so the rerun trains on the full data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from dialsum.analysis.study_io import (SweepStudy, app_of, job_dir, job_hydra_file, load_sweep,
                                       objective_names)
from dialsum.errors import DialsumError
from dialsum.sweep.devices import THREADS_ATTR, THREADS_KEY
from dialsum.sweep.fingerprint import flatten
from dialsum.sweep.job_folder import is_sweeper_only
from dialsum.tracking import atomic

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
MARKER = "# written by: dialsum export-best"   # a file with this line may be overwritten by export-best
MARKER_SEARCH_LINES = 5                          # the marker sits in the header
PACKAGE_HEADER = "# @package _global_"
EXPERIMENT_GROUP = "experiment"
DEBUG_GROUPS = ("debug",)                        # presets that shrink a run: dropped with full_data
DROPPED_GROUPS = ("sweep", "hydra")              # sweeper settings: nothing to do with one training run
SAMPLE_CAP_KEYS = ("data.max_train_samples", "data.max_val_samples")
DEFAULT_PRIMARY_CONFIG = "train"
SCORE_DIGITS = 4


@dataclass
class ExportPlan:
    """What goes into the experiment file, and what was left out (said in its comments)."""

    defaults: list[str | dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def export_best(sweep_dir: Path | str, name: str, conf_dir: Path | str = Path("conf"), full_data: bool = True,
                trial_number: int | None = None, study_name: str | None = None) -> Path:
    """Write <conf_dir>/experiment/<name>.yaml from the best trial (or trial_number); returns its path."""
    check_name(name)
    conf_dir = Path(conf_dir)
    target = conf_dir / EXPERIMENT_GROUP / f"{name}.yaml"
    check_conf_dir(conf_dir)
    check_overwrite(target)
    sweep = load_sweep(sweep_dir, study_name)
    trial = pick_trial(sweep, trial_number)
    folder = job_dir(trial, sweep.sweep_dir)
    if folder is None:
        raise DialsumError(f"trial {trial.number}'s job folder is gone ({trial.user_attrs.get('job_dir')}): its "
                           "fixed overrides and group choices cannot be recovered. Restore the folder, or rerun "
                           "with the command in best_params.yaml.")
    hydra_cfg = job_hydra_file(folder, "hydra.yaml")
    if hydra_cfg is None:
        raise DialsumError(f"{folder}/.hydra/hydra.yaml is missing: the job folder is incomplete; restore it or "
                           "rerun with the command in best_params.yaml.")
    config_name = OmegaConf.select(hydra_cfg, "hydra.job.config_name") or DEFAULT_PRIMARY_CONFIG
    primary = primary_defaults(conf_dir, str(config_name))
    plan = plan_export(trial, folder, hydra_cfg, primary, full_data, conf_dir)
    # an app whose primary config lists no experiment group (another Hydra app) takes it with '+'
    retrain = f"python {app_of(sweep)[0]} {'' if EXPERIMENT_GROUP in primary else '+'}experiment={name}"
    atomic.write_text(target, render(plan, sweep, trial, retrain, full_data))
    return target


def check_name(name: str) -> None:
    """NAME becomes a file name and a Hydra override value: letters, digits, _ and - only."""
    if not NAME_PATTERN.match(name or ""):
        raise DialsumError(f"--name {name!r}: use only letters, digits, '_' and '-' (e.g. --name kobart_best).")


def check_conf_dir(conf_dir: Path) -> None:
    """The folder must be the project's conf (it has the primary config and an experiment group)."""
    if not conf_dir.is_dir():
        raise DialsumError(f"config folder {conf_dir} does not exist: run from the project root or pass "
                           "--conf-dir <path to conf>.")


def check_overwrite(target: Path) -> None:
    """Never clobber a hand-written experiment; an earlier export-best file may be replaced."""
    if not target.exists():
        return
    head = target.read_text(encoding="utf-8").splitlines()[:MARKER_SEARCH_LINES]
    if MARKER not in head:
        raise DialsumError(f"{target} exists and was not written by export-best: choose another --name, or delete "
                           "or rename that file first.")


def pick_trial(sweep: SweepStudy, number: int | None) -> optuna.trial.FrozenTrial:
    """The best trial (first objective when several); a given number must be a completed trial."""
    complete = sweep.trials(optuna.trial.TrialState.COMPLETE)
    if number is not None:
        for t in complete:
            if t.number == number:
                return t
        raise DialsumError(f"trial {number} is not a completed trial of study {sweep.study.study_name}.")
    if not complete:
        raise DialsumError(f"study {sweep.study.study_name} has no completed trial yet: nothing to export "
                           f"(see {sweep.sweep_dir}/report.md or all_results.jsonl for the errors).")
    maximize = sweep.study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.values[0], reverse=maximize)[0]


def primary_defaults(conf_dir: Path, config_name: str) -> dict[str, Any]:
    """Group -> default option, and group order, from the primary config's defaults list."""
    path = conf_dir / f"{config_name}.yaml"
    if not path.is_file():
        raise DialsumError(f"{path} not found: --conf-dir must be the folder holding the primary config "
                           f"({config_name}.yaml).")
    defaults: dict[str, Any] = {}
    for entry in OmegaConf.load(path).get("defaults") or []:
        if isinstance(entry, (dict, DictConfig)):
            for key, value in entry.items():
                if not str(key).startswith("override "):
                    defaults[str(key).lstrip("/")] = value
    return defaults


def plan_export(trial: optuna.trial.FrozenTrial, folder: Path, hydra_cfg: Any, defaults: dict[str, Any],
                full_data: bool, conf_dir: Path) -> ExportPlan:
    """Defaults-list entries for non-default groups, nested values for fixed overrides and params."""
    choices = OmegaConf.select(hydra_cfg, "hydra.runtime.choices") or {}
    plan = ExportPlan()
    parser = OverridesParser.create()
    lines = [str(o) for o in (job_hydra_file(folder, "overrides.yaml") or [])]
    try:
        overrides = parser.parse_overrides(lines)
    except HydraException as err:
        raise DialsumError(f"{folder}/.hydra/overrides.yaml cannot be parsed: {err}") from None
    group_choices: dict[str, Any] = {}
    for o in overrides:
        key = o.get_key_element().lstrip("+~")
        if is_sweeper_only(key):
            continue
        if o.is_delete():
            plan.dropped.append(f"{o.input_line} (deletions are not exported)")
        elif key in choices:
            group_choices[key] = choices[key]
        else:
            plan.values[key] = o.value()
    for key, value in trial.params.items():
        if key in choices:
            group_choices[key] = value
        else:
            plan.values[key] = value
    plan.defaults = defaults_entries(group_choices, defaults, plan, full_data)
    pin_cpu_threads(trial, plan, full_data)
    config = job_hydra_file(folder, "config.yaml")
    if group_choices.get("sweep") and config is not None:
        dropped = [conf_dir / g / f"{group_choices[g]}.yaml" for g in DEBUG_GROUPS if full_data and group_choices.get(g)]
        carry_sweep_preset(plan, conf_dir / "sweep" / f"{group_choices['sweep']}.yaml", config, dropped)
    if full_data and group_choices.get(EXPERIMENT_GROUP):
        name_kept_preset_values(plan, conf_dir / EXPERIMENT_GROUP / f"{group_choices[EXPERIMENT_GROUP]}.yaml")
    if full_data:
        for key in SAMPLE_CAP_KEYS:
            was = plan.values.get(key)
            if was is None and config is not None:
                was = OmegaConf.select(config, key)
            if was is not None:
                plan.values[key] = None
                plan.notes.append(f"full data: {key}=null (the sweep capped it at {was})")
    return plan


def name_kept_preset_values(plan: ExportPlan, preset: Path) -> None:
    """Full data keeps the sweep's experiment preset (it may hold real settings), so name what else it sets
    (quick_test: 12 steps, 24 new tokens) instead of letting it pass as a full run."""
    body = OmegaConf.to_container(OmegaConf.load(preset), resolve=False) if preset.is_file() else {}
    kept = [f"{k}={v}" for k, v in flatten({k: v for k, v in body.items() if k not in ("defaults", "hydra")}).items()
            if k not in SAMPLE_CAP_KEYS and k not in plan.values]
    plan.notes.append(f"kept: experiment={preset.stem} (the sweep's preset; its sample caps are overridden below)"
                      + (f"; it also sets {', '.join(kept)}: override those for a full run" if kept else ""))


def carry_sweep_preset(plan: ExportPlan, preset: Path, config: Any, dropped_presets: list[Path]) -> None:
    """The sweep preset is left out (its sweeper settings mean nothing to one run), but the job values it set
    and the trial ran with (training.max_steps=600: the length its score was measured at) are kept, and so are
    those a dropped debug preset overrode (debug=fast's 4 steps; the full run trains the sweep's 600)."""
    if not preset.is_file():
        plan.notes.append(f"{preset} not found: the job values that sweep preset set (e.g. training.max_steps) "
                          "are not carried over; check the training length before retraining")
        return
    body = OmegaConf.to_container(OmegaConf.load(preset), resolve=False)
    debug_keys = {k for p in dropped_presets if p.is_file() for k in flatten(OmegaConf.to_container(OmegaConf.load(p)))}
    kept = []
    for key, value in flatten({k: v for k, v in body.items() if k not in ("defaults", "hydra")}).items():
        if key not in plan.values and (OmegaConf.select(config, key, default=None) == value or key in debug_keys):
            plan.values[key] = value
            kept.append(f"{key}={value}")
    if kept:
        plan.notes.append(f"kept from the sweep preset {preset.stem}: {', '.join(kept)} (what the trial ran with; "
                          "add training.max_steps=-1 to train num_train_epochs instead)")


def pin_cpu_threads(trial: optuna.trial.FrozenTrial, plan: ExportPlan, full_data: bool) -> None:
    """A CPU trial retrains to its sweep number only on the thread count it trained on (core_share says why)."""
    threads = trial.user_attrs.get(THREADS_ATTR)
    if threads is None or THREADS_KEY in plan.values:
        return
    if full_data:
        plan.notes.append(f"the sweep trained this trial on {threads} CPU thread(s); add {THREADS_KEY}={threads} "
                          "to train on the same count (on the CPU the count changes the result)")
    else:
        plan.values[THREADS_KEY] = int(threads)
        plan.notes.append(f"{THREADS_KEY}={threads}: the thread count the sweep trained it on (on the CPU another "
                          "count changes the result)")


def defaults_entries(group_choices: dict[str, Any], defaults: dict[str, Any], plan: ExportPlan,
                     full_data: bool) -> list[str | dict[str, Any]]:
    """`override /g: x` for groups before `experiment` in the primary list, `/g/x` for those after it (an
    experiment cannot override them), the sweep's own experiment preset by name; overrides last."""
    order = list(defaults)
    after = set(order[order.index(EXPERIMENT_GROUP) + 1:]) if EXPERIMENT_GROUP in order else set()
    entries: list[str | dict[str, Any]] = []
    for group, option in group_choices.items():
        if group in DROPPED_GROUPS or group.startswith("hydra/"):
            plan.dropped.append(f"{group}={option} (sweeper setting)")
        elif group in DEBUG_GROUPS and full_data:
            plan.dropped.append(f"{group}={option} (debug preset; full data)")
        elif option is None or (group in defaults and defaults[group] == option):
            continue
        elif group == EXPERIMENT_GROUP:
            entries.insert(0, str(option))  # the preset this sweep ran on, relative to the experiment group
        elif group in after or group not in defaults:
            entries.append(f"/{group}/{option}")  # can't `override` a group listed after experiment
        else:
            entries.append({f"override /{group}": option})
    return sorted(entries, key=lambda e: isinstance(e, dict))  # Hydra: overrides must come last


def render(plan: ExportPlan, sweep: SweepStudy, trial: optuna.trial.FrozenTrial, retrain: str, full_data: bool) -> str:
    """The experiment file: package header, marker, provenance, defaults list, values."""
    names = objective_names(sweep)
    score = ", ".join(f"{n} = {v:.{SCORE_DIGITS}f}" for n, v in zip(names, trial.values))
    header = [PACKAGE_HEADER, MARKER,
              f"# Best trial {trial.number} of study {sweep.study.study_name} ({score}); sweep folder {sweep.sweep_dir}",
              f"# Retrain: {retrain}"
              + ("   (full data: sample caps and debug presets removed)" if full_data else "")]
    header += [f"# left out: {d}" for d in plan.dropped] + [f"# {n}" for n in plan.notes]
    body: dict[str, Any] = {}
    if plan.defaults:
        body["defaults"] = plan.defaults
    cfg = OmegaConf.create(body)
    for key, value in plan.values.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    return "\n".join(header) + "\n" + OmegaConf.to_yaml(cfg)
