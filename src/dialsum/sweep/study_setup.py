"""Create or resume the Optuna study a sweep runs: pruner, metric names, fingerprint check, sampler."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.distributions import check_distribution_compatibility

from dialsum.errors import DialsumError
from dialsum.sweep import fingerprint
from dialsum.sweep.pruners import build_pruner
from dialsum.sweep.samplers import build_sampler
from dialsum.sweep.search_space import SearchSpace
from dialsum.sweep.storage import STUDY_FILENAME, mask_url, read_marker

log = logging.getLogger(__name__)


def open_study(settings: dict[str, Any], storage: Any, job_config: DictConfig, space: SearchSpace,
               directions: list[str], objectives: list[str], dialsum_app: bool) -> tuple[optuna.Study, bool, str]:
    """Resume only the same experiment (fingerprint); returns (study, resume forced, fingerprint hash)."""
    pruner = optuna.pruners.NopPruner() if len(directions) > 1 else build_pruner(settings.get("pruner"))
    study = optuna.create_study(study_name=settings["study_name"], storage=storage,
                                pruner=pruner, directions=directions, load_if_exists=True)
    current = fingerprint.build(job_config, space, settings, directions, objectives, dialsum_app=dialsum_app)
    forced = fingerprint.check_resume(study, current, str(settings.get("resume") or "auto"))
    if forced:
        _check_same_kinds(study, space)
    # A fixed seed continues past the trials the study already has, so a resumed sampler never
    # replays its earlier proposals (a fresh RandomSampler(seed=0) would ask trial 0's params again).
    study.sampler = build_sampler(settings.get("sampler") or {}, space, len(directions),
                                  seed_offset=len(study.get_trials(deepcopy=False)))
    fingerprint.record_settings(study, current, forced)  # only now: a refused rerun writes nothing to the study
    _name_metrics(study, objectives)
    if len(directions) > 1:
        log.info("multi-objective study %s: Optuna cannot prune it, trials run to the end", objectives)
    return study, forced, fingerprint.short_hash(current)


def check_folder_owner(sweep_dir: Path, study_name: str | None) -> None:
    """Job folders are numbered by trial: a second study in the same hydra.sweep.dir would write its trial 0 over
    the first one's (its log, config and metrics). Refused before the study is opened."""
    owner = read_marker(sweep_dir).get("study_name")
    if owner and study_name and owner != study_name:
        raise DialsumError(f"{sweep_dir} holds the job folders of study {owner!r}; this sweep is study "
                           f"{study_name!r}, whose trials would overwrite them. Give it its own folder "
                           f"(hydra.sweep.dir=multirun/{study_name}), or hydra.sweeper.study_name={owner} to go on "
                           "with that study.")


def record_study(sweep_dir: Path, url: str, study: optuna.Study) -> None:
    """Name the storage in the sweep folder now, so `dialsum status <folder>` finds a running sweep on a URL
    (sweep_summary.json comes at the end); the password stays masked."""
    from dialsum.tracking.atomic import write_json

    write_json(sweep_dir / STUDY_FILENAME, {"storage": mask_url(url), "study_name": study.study_name})


def _check_same_kinds(study: optuna.Study, space: SearchSpace) -> None:
    """resume=force may move a range, but Optuna refuses another choice() list or another kind of parameter
    under the same name in one study: say so before any trial is asked, not in every ask."""
    seen: set[str] = set()
    for trial in study.get_trials(deepcopy=False):
        for name, old in trial.distributions.items():
            new = space.distributions.get(name)
            if new is None or name in seen:
                continue
            seen.add(name)
            try:
                check_distribution_compatibility(old, new)
            except ValueError as err:
                raise DialsumError(f"search space {name}: {err} (the study has {old}, this run {new}). Optuna "
                                   "cannot change that inside one study, even with hydra.sweeper.resume=force: start "
                                   "a new study (hydra.sweeper.study_name=<new name>) or keep the old values.") from None


def _name_metrics(study: optuna.Study, objectives: list[str]) -> None:
    """The dashboard and report show `eval/rouge_combined_f1`, not "Objective 0" (experimental in Optuna 5)."""
    if study.metric_names != objectives:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(objectives)
