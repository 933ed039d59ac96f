"""Reading a multirun folder for `dialsum compare`: which jobs finished, their model, seed and scores."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from dialsum.errors import DialsumError
from dialsum.sweep.fingerprint import IGNORED_PREFIXES, flatten

ROUGE_METRICS = ("eval/rouge1_f1", "eval/rouge2_f1", "eval/rougeL_f1", "eval/rouge_combined_f1")
PRIMARY_METRIC = "eval/rouge_combined_f1"
EXAMPLE_METRIC = "rouge_combined_f1"   # per-example score in predictions.jsonl used by the paired tests
COMPLETED = "completed"
HYDRA_CONFIG = Path(".hydra") / "config.yaml"
SEED_KEY = "training.seed"
MAX_LABEL_KEYS = 3  # settings named in a group's label; more are counted
# Settings that change no score (what is evaluated how fast, a warning's threshold, where a run resumed from)
NOT_DEFINING = ("training.resume_from_checkpoint", "training.per_device_eval_batch_size", "generation.batch_size",
                "generation.grow_factor", "data.min_val_rows", "data.min_val_fraction",
                "hardware.gradient_checkpointing")


@dataclass
class Job:
    """One finished run of the multirun: which model and seed, its best metrics and per-example scores."""

    path: Path
    model: str
    seed: int | None
    best: dict[str, float]
    examples: dict[str, float]   # fname -> per-example combined ROUGE of the kept model
    metric_cfg: Any = None       # cfg.metric: scores are only comparable under the same ROUGE settings
    settings: dict[str, Any] = field(default_factory=dict)  # the config that defines the experiment, bar the seed


@dataclass
class Scan:
    """What a multirun folder holds: usable jobs and skipped ones (with why)."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def scan_jobs(multirun_dir: Path) -> Scan:
    """Every job folder (one with .hydra/config.yaml) below multirun_dir; only completed runs are used."""
    if not multirun_dir.is_dir():
        raise DialsumError(f"{multirun_dir} is not a folder; pass the multirun folder "
                           "(e.g. multirun/model_comparison_<timestamp>).")
    scan = Scan()
    job_dirs = sorted({p.parent.parent for p in multirun_dir.rglob(str(HYDRA_CONFIG))}, key=_job_sort_key)
    for job_dir in job_dirs:
        job, reason = _read_job(job_dir)
        if job is None:
            scan.skipped.append({"job": str(job_dir), "reason": reason})
        else:
            scan.jobs.append(job)
    if not scan.jobs:
        found = f"{len(job_dirs)} job folder(s), none completed" if job_dirs else "no job folders (.hydra/config.yaml)"
        raise DialsumError(f"nothing to compare in {multirun_dir}: {found}. Run e.g. "
                           "`python train.py -m experiment=model_comparison` and pass its multirun folder.")
    _name_configurations(scan.jobs)
    models = sorted({j.model for j in scan.jobs})
    if len(models) < 2:
        raise DialsumError(f"only one model ({models[0]}) has completed runs in {multirun_dir}; a comparison "
                           "needs at least two (e.g. model=kobart,t5).")
    return scan


def _job_sort_key(path: Path) -> tuple:
    """Job folders in numeric order (2 before 10)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts)


def _read_job(job_dir: Path) -> tuple[Job | None, str]:
    """A Job, or None and the reason it cannot be used."""
    metrics_path = job_dir / "metrics.json"
    if not metrics_path.is_file():
        return None, "no metrics.json (failed or still running)"
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        cfg = OmegaConf.load(job_dir / HYDRA_CONFIG)
    except (OSError, ValueError) as err:
        return None, f"unreadable: {err}"
    state = metrics.get("state")
    if state != COMPLETED:
        return None, f"state {state!r}"
    best = {k: float(v) for k, v in (metrics.get("best") or {}).items() if k in ROUGE_METRICS and v is not None}
    if PRIMARY_METRIC not in best:
        return None, f"metrics.json has no best {PRIMARY_METRIC}"
    model = OmegaConf.select(cfg, "model.name", default=None) or metrics.get("model")
    seed = OmegaConf.select(cfg, "training.seed", default=None)
    metric_cfg = OmegaConf.to_container(cfg.metric, resolve=False) if "metric" in cfg else None
    settings = {k: v for k, v in flatten(OmegaConf.to_container(cfg, resolve=False)).items()
                if not k.startswith((*IGNORED_PREFIXES, "metric.")) and k != SEED_KEY}  # metric: warned apart
    return Job(job_dir, str(model), None if seed is None else int(seed), best,
               _read_examples(job_dir / "predictions.jsonl"), metric_cfg, settings), ""


def _name_configurations(jobs: list[Job]) -> None:
    """Runs of one model under different settings (init, learning rate, ...) are different arms, not more
    seeds of one: each arm gets a label naming the settings that set it apart, e.g. `kobart (model.init=scratch)`.
    A key only some runs have (added by a later dialsum) and settings that change no score split nothing."""
    by_model: dict[str, list[Job]] = {}
    for job in jobs:
        by_model.setdefault(job.model, []).append(job)
    for model, group in by_model.items():
        shared = set.intersection(*(set(j.settings) for j in group))
        differ = sorted(k for k in shared if not k.startswith(NOT_DEFINING)
                        and len({repr(j.settings[k]) for j in group}) > 1)
        arms: dict[tuple[str, ...], list[Job]] = {}
        for job in group:
            arms.setdefault(tuple(repr(job.settings[k]) for k in differ), []).append(job)
        if len(arms) < 2:
            continue
        more = f", +{len(differ) - MAX_LABEL_KEYS} more" if len(differ) > MAX_LABEL_KEYS else ""
        labels: set[str] = set()
        for number, members in enumerate(arms.values(), start=1):
            named = ", ".join(f"{k}={members[0].settings[k]}" for k in differ[:MAX_LABEL_KEYS])
            label = f"{model} ({named}{more})"
            label = f"{label} #{number}" if label in labels else label  # arms that differ beyond the named keys
            labels.add(label)
            for job in members:
                job.model = label


def _read_examples(path: Path) -> dict[str, float]:
    """fname -> per-example combined ROUGE; {} when predictions.jsonl is missing."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get(EXAMPLE_METRIC) is not None:
                out[str(row["fname"])] = float(row[EXAMPLE_METRIC])
    return out
