"""What a sweep leaves behind: all_results.jsonl, best_params.yaml, best_config.yaml and a summary."""
from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf

from dialsum.sweep.devices import THREADS_ATTR, THREADS_KEY, pin_threads
from dialsum.sweep.duplicates import DUPLICATE_ATTR
from dialsum.sweep.job_folder import experiment_overrides, read_job_metrics, read_job_overrides, train_command
from dialsum.sweep.retries import INTERRUPTED_LABEL, interrupted_numbers
from dialsum.sweep.storage import dashboard_command, mask_url
from dialsum.tracking import atomic

log = logging.getLogger(__name__)
# Hydra settings best_config.yaml carries (it replaces the app's primary config, and with it conf/hydra/).
BEST_CONFIG_HYDRA_KEYS = ("run.dir", "job.chdir", "job.name", "callbacks")


@dataclass
class TrialRecord:
    """One trial as this sweep process saw it (timing per worker feeds utilisation)."""

    number: int
    params: dict[str, Any]
    worker: int
    start: float
    duration_s: float
    job_dir: str | None
    state: str = "FAIL"
    values: list[float] | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial of the whole study (earlier, resumed runs included)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state in (optuna.trial.TrialState.WAITING,):
            continue
        metrics = read_job_metrics(t.user_attrs.get("job_dir"))
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({
            "number": t.number, "state": t.state.name, "params": t.params,
            "objective": t.values[0] if t.values and len(t.values) == 1 else t.values,
            "best_metrics": metrics.get("best", {}), "n_evaluations": len(t.intermediate_values),
            "duration_s": t.user_attrs.get("duration_s", duration), "job_dir": t.user_attrs.get("job_dir"),
            "error": t.user_attrs.get("error"), "worker": t.user_attrs.get("worker"),
        })
    return rows


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best trial (single objective) or the Pareto front (several); [] when none completed."""
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        return []
    return [study.best_trial] if len(study.directions) == 1 else list(study.best_trials)


def source_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> optuna.trial.FrozenTrial:
    """The trial that actually trained: a reused duplicate points to the one it repeats."""
    original = trial.user_attrs.get(DUPLICATE_ATTR)
    if original is None:
        return trial
    return study.get_trials(deepcopy=False)[int(original)]


def write_best_config(trial: optuna.trial.FrozenTrial, out_path: Path) -> bool:
    """The best job's resolved config with the trial fields cleared: reruns it outside the sweep."""
    job_dir = trial.user_attrs.get("job_dir")
    src = Path(job_dir) / ".hydra" / "config.yaml" if job_dir else None
    if src is None or not src.is_file():
        return False
    cfg = OmegaConf.load(src)
    if "trial" in cfg and OmegaConf.select(cfg, "trial.n_workers") is not None:  # dialsum's trial.* fields only
        cfg.trial = {"number": None, "study_name": None, "storage": None, "n_workers": 1, "cpu_share": None}
    threads = trial.user_attrs.get(THREADS_ATTR)
    if threads is not None and OmegaConf.select(cfg, THREADS_KEY) is None:  # retrain on the sweep's CPU threads
        OmegaConf.update(cfg, THREADS_KEY, int(threads))
    hydra_yaml = src.parent / "hydra.yaml"
    if hydra_yaml.is_file():  # run folder, log name and callbacks as the app's own hydra settings give them
        hydra_cfg = OmegaConf.to_container(OmegaConf.load(hydra_yaml).hydra, resolve=False)  # ${...} kept as text
        cfg.hydra = OmegaConf.create({})
        for key in BEST_CONFIG_HYDRA_KEYS:
            value = _dig(hydra_cfg, key.split("."))
            if value is not None:
                OmegaConf.update(cfg.hydra, key, value, force_add=True)
    atomic.write_text(out_path, "# Best trial %d of the sweep; rerun with the command in best_params.yaml\n"
                      % trial.number + OmegaConf.to_yaml(cfg))
    return True


def _dig(node: Any, path: list[str]) -> Any:
    """A nested dict's value at a dotted path, None when absent."""
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def rerun_command(trial: optuna.trial.FrozenTrial, script: str = "train.py",
                  folder: Path | None = None) -> str | None:
    """One line that retrains a trial, from what its job actually ran (never the current command line); the
    report and best_params.yaml both use it, so they never show two commands for one trial."""
    overrides = read_job_overrides(folder or trial.user_attrs.get("job_dir"))
    if overrides is None and trial.user_attrs.get("overrides"):
        overrides = experiment_overrides(list(trial.user_attrs["overrides"]))
    return train_command(pin_threads(overrides, trial.user_attrs), script) if overrides is not None else None


def finish_sweep(study: optuna.Study, records: list[TrialRecord], sweep_dir: Path, storage_url: str,
                 wall_s: float, n_jobs: int, stop_reason: str | None = None,
                 script: str = "train.py", dialsum_app: bool = True) -> list[TrialRecord]:
    """Write the result files, print the summary, and build the report."""
    rows = trial_rows(study)
    atomic.write_jsonl(sweep_dir / "all_results.jsonl", rows)
    best = best_trials(study)
    summary = _summary(study, records, rows, wall_s, n_jobs)
    if best:
        best_info = [{"number": t.number, "values": t.values, "params": t.params,
                      "command": rerun_command(source_trial(study, t), script)} for t in best]
        atomic.write_text(sweep_dir / "best_params.yaml", OmegaConf.to_yaml(
            {"study_name": study.study_name, "directions": [d.name.lower() for d in study.directions],
             "best": best_info[0] if len(best_info) == 1 else best_info}))
        _write_optimization_results(study, best, sweep_dir)
        if write_best_config(source_trial(study, best[0]), sweep_dir / "best_config.yaml"):
            summary["best_config"] = str(sweep_dir / "best_config.yaml")
        summary["best"] = best_info
    summary.update({"storage": mask_url(storage_url), "dashboard": dashboard_command(storage_url),
                    "stopped": stop_reason, "script": script, "dialsum_app": dialsum_app})
    atomic.write_json(sweep_dir / "sweep_summary.json", summary)
    _print_summary(summary, sweep_dir)
    _build_report(sweep_dir)
    return records


def _write_optimization_results(study: optuna.Study, best: list[optuna.trial.FrozenTrial], sweep_dir: Path) -> None:
    """hydra-optuna-sweeper's result file, same keys, for tools and habits built on that plugin."""
    if len(study.directions) == 1:
        content: dict[str, Any] = {"name": "optuna", "best_params": best[0].params, "best_value": best[0].value}
    else:
        content = {"name": "optuna", "solutions": [{"params": t.params, "values": t.values} for t in best]}
    atomic.write_text(sweep_dir / "optimization_results.yaml", OmegaConf.to_yaml(content))


def _summary(study: optuna.Study, records: list[TrialRecord], rows: list[dict[str, Any]], wall_s: float,
             n_jobs: int) -> dict[str, Any]:
    """Counts over the whole study; utilisation over this invocation's trials."""
    rerun = interrupted_numbers(study.get_trials(deepcopy=False))  # interrupted: their params queued again
    counts: dict[str, int] = {}
    for row in rows:
        state = "REQUEUED" if row["number"] in rerun else row["state"]
        counts[state] = counts.get(state, 0) + 1
    busy = sum(r.duration_s for r in records)
    return {"study_name": study.study_name, "counts": counts, "this_run_trials": len(records),
            "wall_s": round(wall_s, 2), "busy_s": round(busy, 2), "n_jobs": n_jobs,
            "worker_utilisation": round(busy / (n_jobs * wall_s), 3) if wall_s > 0 and records else None}


def _print_summary(summary: dict[str, Any], sweep_dir: Path) -> None:
    """The console summary a user reads at the end of a night of trials."""
    c = summary["counts"]
    interrupted = f", {c['REQUEUED']} {INTERRUPTED_LABEL}" if c.get("REQUEUED") else ""
    lines = [f"sweep {summary['study_name']}: {c.get('COMPLETE', 0)} complete, {c.get('PRUNED', 0)} pruned, "
             f"{c.get('FAIL', 0)} failed{interrupted} (whole study); this run: {summary['this_run_trials']} trial(s) in "
             f"{summary['wall_s']:.1f} s, worker utilisation {summary['worker_utilisation']}"]
    for b in summary.get("best", []):
        lines.append(f"best trial {b['number']}: {b['values']} {b['params']}")
        lines.append(f"  retrain: {b['command'] or '(the job folder is gone: see best_params.yaml params)'}")
    if "best_config" in summary:
        script = shlex.split(summary.get("script", "train.py"))[0]  # its config flags would compete with these
        lines.append(f"  or: python {shlex.quote(script)} --config-path "
                     f"{Path(summary['best_config']).parent.resolve()} --config-name best_config")
    if summary.get("stopped"):
        lines.append(f"stopped early: {summary['stopped']}")
    if not summary.get("best"):
        lines.append("no trial completed" + (": see the errors in all_results.jsonl" if c.get("FAIL") else ""))
    lines.append(f"results: {sweep_dir}/all_results.jsonl")
    lines.append(f"dashboard: {summary['dashboard']}")
    for line in lines:
        log.info("%s", line)
    print("\n".join(lines), flush=True)


def _build_report(sweep_dir: Path) -> None:
    """The HTML/markdown report; a report problem never fails a finished sweep."""
    try:
        from dialsum.analysis.report import build_report
    except ImportError:
        return
    try:
        paths = build_report(sweep_dir)
        log.info("report: %s", ", ".join(str(p) for p in paths))
    except Exception as err:  # noqa: BLE001 - the trials' results are already safe on disk
        log.warning("could not build the sweep report: %s", err)
