"""Weights & Biases logger (`logger=wandb`): curves, a per-evaluation examples table, best metrics in the summary.

Offline by default (`logger.mode=offline`, no network; `wandb sync` uploads later). One W&B run per dialsum run,
created with `reinit="create_new"` so sweeps that reuse a worker process for many trials get one run each.
Secrets never reach W&B: the config is scrubbed before it is sent and the environment is never logged.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from transformers import TrainerCallback

from dialsum.config_schema import CHOICES
from dialsum.engine.metric_names import to_public
from dialsum.errors import DialsumError
from dialsum.tracking.redact import redact_urls

log = logging.getLogger(__name__)

MODES = CHOICES["logger.mode"]
DIALOGUE_EXCERPT_CHARS = 300          # dialogue text shown per row of the examples table
EXAMPLE_COLUMNS = ("fname", "dialogue", "prediction", "reference",
                   "rouge1_f1", "rouge2_f1", "rougeL_f1", "rouge_combined_f1")
REDACTED = "<redacted>"
# Config keys whose values are never sent, whatever they hold (matched on the lower-cased key).
SECRET_KEY_PARTS = ("api_key", "apikey", "secret", "password", "passwd", "credential", "auth_token",
                    "access_token", "hf_token", "private_key")
SECRET_KEY_EXACT = ("token", "key")
# Environment variables whose values are scrubbed wherever they appear inside a config string.
SECRET_ENV_VARS = ("WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPTUNA_STORAGE_PASSWORD")
MIN_SECRET_LEN = 8                    # shorter env values are too likely to match ordinary text
EXIT_OK_STATES = ("completed", "pruned")                # a pruned trial is a normal sweep outcome
PERF_PREFIX = "perf/"                                   # live step time / peak memory in the history
RUN_PREFIX = "run/"                                     # whole-run numbers from metrics.json in the summary


class WandbLogger(TrainerCallback):
    """Sends Trainer logs and evaluation examples to one W&B run; `finish` writes the best metrics."""

    def __init__(self, run: Any, generation_eval: Any, log_examples: int, accelerator: str = "cpu") -> None:
        self.run = run
        self.generation_eval = generation_eval
        self.log_examples = max(0, int(log_examples))
        self.accelerator = accelerator
        self.finished = False
        self._last_log: tuple[float, int] | None = None  # (time, step) of the previous train log

    @classmethod
    def from_config(cls, cfg: DictConfig, out_dir: Path, generation_eval: Any) -> "WandbLogger":
        """Start the W&B run described by cfg.logger; fails with a readable DialsumError if W&B cannot start."""
        try:
            import wandb
        except Exception as err:  # a missing or broken install (ImportError, or an error inside wandb's import)
            raise DialsumError(f"logger=wandb, but wandb cannot be imported ({type(err).__name__}: {err}). "
                               "Reinstall it (`pip install wandb`) or use logger=csv.") from None

        lc = cfg.logger
        mode = str(lc.mode)
        if mode not in MODES:
            raise DialsumError(f"logger.mode={mode!r}; use one of {', '.join(MODES)}.")
        trial_number = cfg.trial.get("number")
        study = cfg.trial.get("study_name")
        tags = [str(t) for t in (lc.tags or [])]
        if trial_number is not None:
            tags.append(f"trial-{trial_number}")
        wandb_dir = Path(lc.dir) if lc.dir else Path(out_dir)
        wandb_dir.mkdir(parents=True, exist_ok=True)
        config = scrub_secrets(resolved_config(cfg))
        config["trial_number"] = trial_number  # top-level, so W&B's runs table can sort/filter by it
        try:
            run = wandb.init(
                mode=mode, project=lc.project, entity=lc.entity, group=lc.group or study, tags=tags,
                job_type=lc.job_type, name=lc.run_name or default_run_name(cfg), dir=str(wandb_dir),
                config=config, reinit="create_new",  # several runs per process (reused sweep workers)
            )
        except Exception as err:  # wandb raises UsageError/CommError/timeouts; the message holds no key
            raise DialsumError(f"W&B could not start a run ({type(err).__name__}: {err}). Run `wandb login`, "
                               "or use logger.mode=offline (upload later with `wandb sync`).") from err
        log.info("W&B run %s (%s) in %s", run.name, mode, wandb_dir)
        return cls(run, generation_eval, int(lc.log_examples), str(cfg.hardware.accelerator))

    # --- Trainer callback hooks -------------------------------------------------------------------------------

    def on_log(self, args, state, control, logs=None, **kwargs):
        """train/* and eval/* numbers at the Trainer's global step; step time and peak memory with train logs."""
        public = {k: v for k, v in to_public(logs or {}).items() if _is_number(v)}
        if "train/loss" in public:
            public.update(self._perf(state.global_step))
        if public and not self.finished:
            self.run.log(public, step=state.global_step)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        """The first log_examples generated summaries of this evaluation, as a W&B table."""
        if self.log_examples == 0 or self.finished:
            return
        table = self.examples_table()
        if table is not None:
            self.run.log({"eval/examples": table}, step=state.global_step)

    # --- helpers ----------------------------------------------------------------------------------------------

    def examples_table(self) -> Any:
        """wandb.Table of the latest evaluation's first rows, or None before any evaluation."""
        import wandb

        rows = list(getattr(self.generation_eval, "last_rows", []) or [])[: self.log_examples]
        if not rows:
            return None
        dialogues = list(getattr(self.generation_eval, "dialogues", []) or [])
        data = []
        for i, row in enumerate(rows):
            dialogue = dialogues[i] if i < len(dialogues) else ""
            excerpt = dialogue if len(dialogue) <= DIALOGUE_EXCERPT_CHARS else dialogue[:DIALOGUE_EXCERPT_CHARS] + "…"
            data.append([row.get("fname"), excerpt, row.get("prediction"), row.get("reference"),
                         *(row.get(k) for k in EXAMPLE_COLUMNS[4:])])
        return wandb.Table(columns=list(EXAMPLE_COLUMNS), data=data)

    def _perf(self, step: int) -> dict[str, float]:
        """Seconds per optimizer step since the previous train log, and this run's peak memory so far."""
        from dialsum.tracking.resources import peak_memory_mb

        now = time.perf_counter()
        out: dict[str, float] = {}
        if self._last_log is not None and step > self._last_log[1]:
            out[PERF_PREFIX + "step_time_s"] = (now - self._last_log[0]) / (step - self._last_log[1])
        self._last_log = (now, step)
        out.update({PERF_PREFIX + k: v for k, v in peak_memory_mb(self.accelerator).items()})
        return out

    def finish(self, metrics: dict[str, Any], state: str) -> None:
        """Best metrics as `best/<name>` in the run summary, plus state and `run/` timings; then close the run."""
        if self.finished:
            return
        self.finished = True
        summary: dict[str, Any] = {f"best/{k}": v for k, v in (metrics.get("best") or {}).items() if _is_number(v)}
        objective = metrics.get("objective") or {}
        if _is_number(objective.get("value")):
            summary["objective/value"] = objective["value"]
            summary["objective/metric"] = objective.get("metric")
        if metrics.get("best_step") is not None:
            summary["best/step"] = metrics["best_step"]
        for key in ("train_time_s", "step_time_s", "data_prep_s", "peak_rss_mb", "peak_gpu_mb"):
            if _is_number(metrics.get(key)):
                summary[RUN_PREFIX + key] = metrics[key]
        summary["state"] = state
        try:
            for key, value in summary.items():
                self.run.summary[key] = value
        finally:
            self.run.finish(exit_code=0 if state in EXIT_OK_STATES else 1)


def _is_number(value: Any) -> bool:
    """Scalars W&B can chart (bools excluded: they are flags, not metrics)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def default_run_name(cfg: DictConfig, now: datetime | None = None) -> str:
    """`{model}_lr{lr}_bs{bs}_{MMDD_HHMM}` (with `{study}_` first in a sweep): the team's naming habit."""
    stamp = (now or datetime.now()).strftime("%m%d_%H%M")
    name = f"{cfg.model.name}_lr{cfg.training.learning_rate}_bs{cfg.training.per_device_train_batch_size}_{stamp}"
    study = cfg.trial.get("study_name")
    return f"{study}_{name}" if study else name


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain data with interpolations resolved; an unresolvable one is kept as its `${...}` text."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # e.g. ${hydra:...} outside a Hydra run: resolve node by node instead
        return _resolve_each(cfg)


def _resolve_each(node: Any) -> Any:
    """Resolve leaf by leaf so one bad interpolation does not lose the whole config."""
    if isinstance(node, DictConfig):
        raw = OmegaConf.to_container(node, resolve=False)
        out = {}
        for key in node.keys():
            try:
                out[key] = _resolve_each(node[key])
            except Exception:
                out[key] = raw[key]
        return out
    if isinstance(node, ListConfig):
        return [_resolve_each(v) for v in node]
    return node


def _is_secret_key(key: Any) -> bool:
    """A key that names a credential (api_key, password, token, ...)."""
    lowered = str(key).lower()
    return lowered in SECRET_KEY_EXACT or any(part in lowered for part in SECRET_KEY_PARTS)


def scrub_secrets(data: Any) -> Any:
    """Copy of data with credential-named keys, URL passwords and known secret env values replaced."""
    secrets = [v for v in (os.environ.get(name) for name in SECRET_ENV_VARS) if v and len(v) >= MIN_SECRET_LEN]

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if _is_secret_key(k) and v is not None else scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            value = redact_urls(value, REDACTED)  # postgresql://user:PASSWORD@host/db
            for secret in secrets:
                value = value.replace(secret, REDACTED)
        return value

    return scrub(data)
