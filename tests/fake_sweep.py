"""A fake but realistic sweep folder: an Optuna journal study plus job folders shaped like a real run's.

Job folders get .hydra/{config,hydra,overrides}.yaml composed from the repo's real conf (so export-best sees
true group choices) and a metrics.json like dialsum.engine.run writes. No training happens: fast and offline.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from dialsum.sweep.storage import JOURNAL_FILENAME, open_storage

CONF = Path(__file__).resolve().parents[1] / "conf"
OBJECTIVE = "eval/rouge_combined_f1"
MEMORY_OBJECTIVE = "peak_rss_mb"
DISTRIBUTIONS: dict[str, optuna.distributions.BaseDistribution] = {
    "training.learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True),
    "training.per_device_train_batch_size": optuna.distributions.CategoricalDistribution([8, 16, 32]),
    "training.warmup_ratio": optuna.distributions.FloatDistribution(0.0, 0.3),
}
# Fixed overrides of the fake sweep command (like `python train.py -m ... model=t5 debug=fast`).
FIXED_OVERRIDES = ["model=t5", "debug=fast", "generation.num_beams=2"]
N_EVALS = 4
TRIAL_SECONDS = 30
N_WORKERS = 2
T0 = dt.datetime(2026, 11, 20, 9, 0, 0)


@dataclass
class FakeTrial:
    """What one fake trial ended as."""

    state: optuna.trial.TrialState
    params: dict[str, Any]
    values: list[float] | None = None
    error: str | None = None
    intermediate: dict[int, float] = field(default_factory=dict)
    duplicate_of: int | None = None   # reused another trial's result: no job ran, no folder


def default_trials() -> list[FakeTrial]:
    """4 complete, 2 pruned, 1 failed: the best (trial 2) has the highest learning rate."""
    S = optuna.trial.TrialState
    lrs = [2e-5, 1e-4, 9e-4, 5e-5, 3e-5, 1.5e-5, 4e-4]
    finals = [0.31, 0.38, 0.46, 0.35]
    trials = []
    for i, final in enumerate(finals):
        trials.append(FakeTrial(S.COMPLETE, _params(lrs[i], i), [final], intermediate=_curve(final, N_EVALS)))
    for i in (4, 5):  # a pruned trial's value is its last reported one (Optuna's tell(state=PRUNED))
        curve = _curve(0.2 + 0.1 * (i - 4), 2)
        trials.append(FakeTrial(S.PRUNED, _params(lrs[i], i), [curve[max(curve)]], intermediate=curve))
    trials.append(FakeTrial(S.FAIL, _params(lrs[6], 6), error="OutOfMemoryError: CUDA out of memory (fake)"))
    return trials


def _params(lr: float, i: int) -> dict[str, Any]:
    """One point of the fake search space."""
    return {"training.learning_rate": lr, "training.per_device_train_batch_size": [8, 16, 32][i % 3],
            "training.warmup_ratio": round(0.05 * (i % 5), 3)}


def _curve(final: float, n: int) -> dict[int, float]:
    """An objective that rises towards `final` over n evaluations."""
    return {step: round(final * (step + 1) / N_EVALS, 4) for step in range(n)}


def compose_job(overrides: list[str]) -> tuple[Any, Any]:
    """(job config, hydra config) as `python train.py <overrides>` would record them."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    hydra_cfg = OmegaConf.create({"hydra": OmegaConf.to_container(cfg.hydra, resolve=False)})
    job_cfg = OmegaConf.to_container(cfg, resolve=False)
    job_cfg.pop("hydra")
    return OmegaConf.create(job_cfg), hydra_cfg


def write_job(folder: Path, trial: FakeTrial, overrides: list[str], hydra_overrides: list[str], number: int) -> None:
    """.hydra/*.yaml always (overrides.yaml holds the task overrides only); metrics.json if it trained."""
    job_cfg, hydra_cfg = compose_job(overrides + hydra_overrides)
    OmegaConf.update(hydra_cfg, "hydra.runtime.output_dir", str(folder))
    hydra_dir = folder / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    (hydra_dir / "config.yaml").write_text(OmegaConf.to_yaml(job_cfg), encoding="utf-8")
    (hydra_dir / "hydra.yaml").write_text(OmegaConf.to_yaml(hydra_cfg), encoding="utf-8")
    (hydra_dir / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(overrides)), encoding="utf-8")
    if trial.state in (optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING):
        return
    curve = trial.intermediate or ({0: trial.values[0]} if trial.values else {})
    if not curve:
        return
    history = [{"step": (s + 1) * 2, OBJECTIVE: v, "eval/rouge1_f1": v + 0.05, "eval/rouge2_f1": v - 0.1,
                "eval/rougeL_f1": v + 0.02, "eval/loss": 3.0 - v, "eval/gen_len": 20.0 + s}
               for s, v in curve.items()]
    best = max(history, key=lambda e: e[OBJECTIVE])
    metrics = {"model": "t5", "objective": {"metric": OBJECTIVE, "direction": "maximize", "value": best[OBJECTIVE]},
               "best": {k: v for k, v in best.items() if k.startswith("eval/")}, "best_step": best["step"],
               "n_evaluations": len(history), "history": history, "state": trial.state.name,
               "train_time_s": 12.5 + number, "peak_rss_mb": 500.0 + 10 * number,
               "baseline_first_utterance": {OBJECTIVE: 0.2}}
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")


def build_fake_sweep(root: Path, name: str = "fake_study", trials: list[FakeTrial] | None = None,
                     multi_objective: bool = False, n_running: int = 0, with_summary: bool = True,
                     fixed_overrides: list[str] | None = None) -> Path:
    """Write multirun-like <root>/<name>/ with a journal study and job folders; returns the sweep folder."""
    sweep_dir = root / name
    sweep_dir.mkdir(parents=True, exist_ok=True)
    url = str((sweep_dir / JOURNAL_FILENAME).resolve())
    directions = ["maximize", "minimize"] if multi_objective else ["maximize"]
    study = optuna.create_study(study_name=name, storage=open_storage(url), directions=directions)
    trials = list(trials if trials is not None else default_trials())
    S = optuna.trial.TrialState
    trials += [FakeTrial(S.RUNNING, _params(2e-4, 7 + i), intermediate=_curve(0.3, 1)) for i in range(n_running)]
    hydra_overrides = ["hydra/sweeper=optuna"] + (
        [f"hydra.sweeper.objectives=[{OBJECTIVE},{MEMORY_OBJECTIVE}]", "hydra.sweeper.direction=[maximize,minimize]"]
        if multi_objective else [])
    for number, trial in enumerate(trials):
        if multi_objective and trial.values:
            trial.values = [trial.values[0], 500.0 + 10 * number]
            trial.intermediate = {}
        folder = sweep_dir / str(number)
        fixed = FIXED_OVERRIDES if fixed_overrides is None else fixed_overrides
        overrides = fixed + [f"{k}={v}" for k, v in trial.params.items()] + [
            f"trial.number={number}", f"trial.study_name={name}", f"trial.storage='{url}'", "trial.n_workers=2"]
        if trial.duplicate_of is None:
            write_job(folder, trial, overrides, hydra_overrides, number)
        study.add_trial(_frozen(trial, number, folder))
    if with_summary:
        summary = {"study_name": name, "counts": {}, "storage": url,
                   "dashboard": f"optuna-dashboard {url} --host 127.0.0.1 --port 8080"}
        (sweep_dir / "sweep_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return sweep_dir


def _frozen(trial: FakeTrial, number: int, folder: Path) -> optuna.trial.FrozenTrial:
    """A finished (or running) trial with realistic times: workers alternate, trials take 30 s + number."""
    S = optuna.trial.TrialState
    worker = number % N_WORKERS
    start = T0 + dt.timedelta(seconds=(number // N_WORKERS) * (TRIAL_SECONDS + N_WORKERS))
    end = None if trial.state == S.RUNNING else start + dt.timedelta(seconds=TRIAL_SECONDS + number)
    user_attrs: dict[str, Any] = {"worker": worker, "job_dir": str(folder), "torch_threads": 1,  # 2 workers, 2 cores
                                  "sweeper": {"host": socket.gethostname(), "pid": os.getpid()}}
    if end is not None:
        user_attrs["duration_s"] = (end - start).total_seconds()
    if trial.error:
        user_attrs["error"] = trial.error
    if trial.duplicate_of is not None:
        user_attrs = {"duplicate_of": trial.duplicate_of, "duration_s": 0.0}
    values = trial.values if trial.state in (S.COMPLETE, S.PRUNED) else None
    return optuna.trial.FrozenTrial(
        number=number, state=trial.state, value=None, values=values, datetime_start=start,
        datetime_complete=end, params=trial.params, distributions=dict(DISTRIBUTIONS), user_attrs=user_attrs,
        system_attrs={}, intermediate_values=trial.intermediate, trial_id=number)
