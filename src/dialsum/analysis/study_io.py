"""Find and load the Optuna study behind a sweep folder or a storage URL (finished, running or resumed), and
read its job folders.

Shared by the report, the dashboard, export-best and status so they always agree on which study a target means.
A target is a sweep folder, a storage URL (`postgresql://...`, `sqlite:///x.db`), a journal file or an SQLite
file; `--study NAME` picks one study when the storage holds several.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from dialsum.errors import DialsumError
from dialsum.sweep.job_folder import HYDRA_SUBDIR, read_job_metrics, train_command
from dialsum.sweep.storage import JOURNAL_FILENAME, STUDY_FILENAME, mask_url, open_storage, read_marker

SUMMARY_FILENAME = "sweep_summary.json"
TrialState = optuna.trial.TrialState
SQLITE_MAGIC = b"SQLite format 3\x00"  # first bytes of every SQLite database file


@dataclass
class SweepStudy:
    """A sweep folder, the storage URL its study lives in, the loaded study, and the summary if finished.

    storage_url is for showing (password masked); open_url is what opens it again (the dashboard)."""

    sweep_dir: Path
    storage_url: str
    study: optuna.Study
    summary: dict[str, Any] | None
    open_url: str = ""

    def trials(self, *states: TrialState) -> list[optuna.trial.FrozenTrial]:
        """Trials of the whole study (all runs that shared it), optionally only some states."""
        return self.study.get_trials(deepcopy=False, states=states or None)


def read_summary(sweep_dir: Path) -> dict[str, Any] | None:
    """sweep_summary.json, or None while the sweep is still running (it is written at the end)."""
    path = Path(sweep_dir) / SUMMARY_FILENAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise DialsumError(f"{path} is not valid JSON ({err}); delete it and the report uses the storage "
                           "directly.") from None


def find_storage_url(sweep_dir: Path, summary: dict[str, Any] | None = None) -> str:
    """The summary's storage URL; else (running sweep, or a folder moved since) the journal file in the folder."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise DialsumError(f"sweep folder {sweep_dir} does not exist; give the folder a sweep wrote, "
                           "e.g. multirun/<study_name>.")
    journal = sweep_dir / JOURNAL_FILENAME
    for source in (summary or {}, read_marker(sweep_dir)):  # the marker names a running sweep's storage
        url = source.get("storage")
        if url and ("://" in url or Path(url).is_file()):
            return str(url)
    if journal.is_file():
        return str(journal.resolve())
    raise DialsumError(f"{sweep_dir} has no {JOURNAL_FILENAME} and no {SUMMARY_FILENAME} naming a storage: "
                       "it is not a sweep folder (a sweep on hydra.sweeper.storage=<URL> names it in "
                       f"{STUDY_FILENAME} from its start; for an older one give the URL itself, e.g. "
                       "dialsum status \"$DIALSUM_STORAGE\").")


def pick_study_name(sweep_dir: Path, storage: optuna.storages.BaseStorage, url: str,
                    summary: dict[str, Any] | None, wanted: str | None = None) -> str:
    """--study NAME; else the summary's study; else the only study in the storage; else the one named like
    the folder."""
    names = optuna.get_all_study_names(storage)
    if wanted:
        return choose_study(names, wanted, url)
    wanted = (summary or {}).get("study_name") or read_marker(sweep_dir).get("study_name")
    if wanted:
        if wanted not in names:
            raise DialsumError(f"study {wanted!r} from {SUMMARY_FILENAME} is not in storage {mask_url(url)} "
                               f"(it holds: {', '.join(names) or 'nothing'}).")
        return str(wanted)
    if Path(sweep_dir).name in names and len(names) > 1:
        return Path(sweep_dir).name
    return choose_study(names, None, url, hint=f" and none is named like the folder {Path(sweep_dir).name!r}")


def choose_study(names: list[str], wanted: str | None, url: str, hint: str = "") -> str:
    """The study asked for, or the only one; an ambiguous or unknown name lists what the storage holds."""
    shown = mask_url(url)
    if wanted:
        if wanted not in names:
            raise DialsumError(f"storage {shown} has no study {wanted!r}; it holds: {', '.join(sorted(names)) or 'nothing'}.")
        return wanted
    if len(names) == 1:
        return names[0]
    if not names:
        raise DialsumError(f"storage {shown} holds no study yet: the sweep has not asked for its first trial (a "
                           "relative sqlite:/// path is relative to the folder the sweep was started from).")
    raise DialsumError(f"storage {shown} holds several studies ({', '.join(sorted(names))}){hint}; pick one with "
                       "--study NAME.")


def is_storage_target(target: Path | str) -> bool:
    """A URL or a storage file (journal, SQLite), as opposed to a sweep folder."""
    text = str(target)
    return "://" in text or Path(text).is_file()


def storage_url_of(target: str) -> str:
    """A URL as given; an SQLite file -> sqlite:///<absolute path>; any other file is a journal."""
    if "://" in target:
        return target
    path = Path(target).resolve()
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    return f"sqlite:///{path}" if head == SQLITE_MAGIC else str(path)


def _open(url: str) -> optuna.storages.BaseStorage:
    """The storage; a driver or connection error names the (masked) URL. A missing SQLite file is an error,
    not a new empty database (these commands only read)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise DialsumError(f"{url}: no such SQLite file; check the path (sqlite:///relative.db, "
                           "sqlite:////absolute/path.db).")
    try:
        return open_storage(url)
    except DialsumError:
        raise
    except Exception as err:  # noqa: BLE001 - any driver/connection error is the user's storage URL
        message = str(err).replace(url, mask_url(url))
        raise DialsumError(f"cannot open storage {mask_url(url)}: {type(err).__name__}: {message}") from None


def load_sweep(target: Path | str, study_name: str | None = None) -> SweepStudy:
    """Open a sweep folder's (or a storage URL's) study read-only in spirit (nothing is written to it)."""
    if is_storage_target(target):
        return _load_from_storage(storage_url_of(str(target)), study_name)
    sweep_dir = Path(target)
    summary = read_summary(sweep_dir)
    url = find_storage_url(sweep_dir, summary)
    storage = _open(url)
    name = pick_study_name(sweep_dir, storage, url, summary, study_name)
    if summary is not None and summary.get("study_name") not in (None, name):
        summary = None  # the folder's summary is another study's
    study = optuna.load_study(study_name=name, storage=storage)
    return SweepStudy(sweep_dir=sweep_dir, storage_url=mask_url(url), study=study, summary=summary, open_url=url)


def _load_from_storage(url: str, study_name: str | None) -> SweepStudy:
    """A study straight from its storage; its sweep folder is found from where its job folders are."""
    storage = _open(url)
    name = choose_study(optuna.get_all_study_names(storage), study_name, url)
    study = optuna.load_study(study_name=name, storage=storage)
    folder = _sweep_folder(study, url)
    summary = read_summary(folder) if folder is not None else None
    if summary is not None and summary.get("study_name") not in (None, name):
        summary = None
    # No folder reachable from here (another machine's sweep): outputs such as the report go to ./<study>/
    return SweepStudy(sweep_dir=folder if folder is not None else Path(name), storage_url=mask_url(url),
                      study=study, summary=summary, open_url=url)


def _sweep_folder(study: optuna.Study, url: str) -> Path | None:
    """The folder holding the journal file, else the most common parent of the trials' job folders."""
    if "://" not in url and Path(url).name == JOURNAL_FILENAME:
        return Path(url).parent
    parents: dict[Path, int] = {}
    for trial in study.get_trials(deepcopy=False):
        recorded = trial.user_attrs.get("job_dir")
        if recorded and Path(recorded).parent.is_dir():
            parents[Path(recorded).parent] = parents.get(Path(recorded).parent, 0) + 1
    return max(parents, key=lambda p: parents[p]) if parents else None


def job_dir(trial: optuna.trial.FrozenTrial, sweep_dir: Path) -> Path | None:
    """The trial's job folder: the recorded path, else <sweep_dir>/<number> (a copied or moved sweep)."""
    recorded = trial.user_attrs.get("job_dir")
    candidates = ([Path(recorded)] if recorded else []) + [Path(sweep_dir) / str(trial.number)]
    for path in candidates:
        if path.is_dir():
            return path
    return None


def job_metrics(trial: optuna.trial.FrozenTrial, sweep_dir: Path) -> dict[str, Any]:
    """The job's metrics.json ({} for failed or still-running jobs)."""
    return read_job_metrics(job_dir(trial, sweep_dir))


def job_hydra_file(folder: Path | None, name: str) -> DictConfig | Any | None:
    """One of a job's .hydra/{config,hydra,overrides}.yaml, None when absent."""
    if folder is None:
        return None
    path = folder / HYDRA_SUBDIR / name
    return OmegaConf.load(path) if path.is_file() else None


def objective_names(sweep: SweepStudy) -> list[str]:
    """Metric name per objective: study metric names, else the sweep's job config, else generic."""
    n = len(sweep.study.directions)
    if sweep.study.metric_names and len(sweep.study.metric_names) == n:
        return list(sweep.study.metric_names)
    for trial in sweep.trials():
        folder = job_dir(trial, sweep.sweep_dir)
        hydra_cfg = job_hydra_file(folder, "hydra.yaml")
        config = job_hydra_file(folder, "config.yaml")
        if n > 1 and hydra_cfg is not None:
            names = OmegaConf.select(hydra_cfg, "hydra.sweeper.objectives")
            if names is not None and len(names) == n:
                return [str(x) for x in names]
        if n == 1 and config is not None and OmegaConf.select(config, "objective.metric"):
            return [str(OmegaConf.select(config, "objective.metric"))]
    return ["objective"] if n == 1 else [f"objective {i}" for i in range(n)]


def app_of(sweep: SweepStudy) -> tuple[str, bool]:
    """(script, ran dialsum's train.py) of the sweep: another Hydra app has no experiment group nor training.*."""
    summary = sweep.summary or {}
    script = str(summary.get("script") or "train.py")
    return script, bool(summary.get("dialsum_app", script == "train.py"))


def rerun_command(sweep: SweepStudy, trial: optuna.trial.FrozenTrial) -> str:
    """The exact command that retrains a trial: the summary's if it has one, else from the job's overrides."""
    for best in (sweep.summary or {}).get("best") or []:
        if best.get("number") == trial.number and best.get("command"):
            return str(best["command"])
    from dialsum.sweep.results import rerun_command as trial_command

    script = app_of(sweep)[0]
    return (trial_command(trial, script, job_dir(trial, sweep.sweep_dir))
            or train_command([f"{k}={v}" for k, v in trial.params.items()], script))  # its job folder is gone
