"""One training run, start to finish: data -> model -> features -> Trainer -> run folder -> objective."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dialsum.engine.metric_names import check_objective, to_public, trainer_key
from dialsum.errors import DialsumError

log = logging.getLogger("dialsum")


def train(cfg: DictConfig, out_dir: Path) -> float:
    """Train and evaluate; returns the best value of objective.metric (what sweepers optimise)."""
    from dialsum.config_schema import check_job_config

    check_job_config(cfg)  # mistyped values: one message naming each, before any work
    check_objective(cfg.objective.metric, cfg.objective.direction)
    from dialsum.sweep import devices
    from dialsum.tracking import resources

    devices.check_hardware(cfg.hardware, cfg.model)  # config only: nothing may touch CUDA before the claim
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from dialsum.engine.checkpoints import clear_run, refuse_reuse

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    resume = _resume_path(cfg, out_dir, multirun)
    clear = False  # a sweep trial's folder is its own; a run given a used folder is refused, or cleared when asked
    if cfg.trial.get("number") is None:
        clear = refuse_reuse(out_dir, resume, bool(cfg.artifacts.get("overwrite", False)), multirun)
    if resume is not None:
        log.info("resuming from %s", resume)  # the run's log says which checkpoint it went on from
    cache_dir = Path(cfg.paths.cache_dir)
    log.info("device: %s", devices.configure(cfg.hardware, int(cfg.trial.n_workers), cache_dir / "device_locks"))
    resources.begin_run(cfg.hardware.accelerator)  # peaks and start time of this run, not of the process

    from dialsum.data.features import FeatureSpec, ListDataset, cached_features
    from dialsum.data.splits import load_splits
    from dialsum.models.builder import build_model, build_tokenizer, warn_learning_rate
    from dialsum.models.checkpoint import check_lengths

    import transformers

    warn_learning_rate(cfg.model, cfg.training.learning_rate)
    transformers.utils.logging.disable_progress_bar()  # shard-writing bars would clutter every save
    started = time.perf_counter()  # data preparation: what the cache makes cheap on the second run
    splits = load_splits(cfg.data, cache_dir, with_test=False)  # training never reads the test CSV
    texts = list(splits.train["dialogue"]) + list(splits.train["summary"])
    tokenizer, family = build_tokenizer(cfg.model, texts, cache_dir)
    spec = FeatureSpec.from_model_config(cfg.model, family.decoder_only)
    train_rows = cached_features(splits.train, tokenizer, spec, cache_dir, with_labels=True)
    val_rows = cached_features(splits.val, tokenizer, spec, cache_dir, with_labels=True)
    prompts = (cached_features(splits.val, tokenizer, spec, cache_dir, with_labels=False)
               if family.decoder_only else val_rows)
    data_prep_s = time.perf_counter() - started
    log.info("data, tokenizer and features ready in %.2f s", data_prep_s)
    model = build_model(cfg.model, tokenizer, family, int(cfg.training.seed))
    check_lengths(model.config, cfg.model, int(cfg.generation.max_new_tokens))
    if clear:  # only now, with data, tokenizer and model ready: a typo in the new settings keeps the old run
        clear_run(out_dir)
    return _fit(cfg, out_dir, tokenizer, model, family, ListDataset(train_rows), ListDataset(val_rows),
                [r["input_ids"] for r in prompts], splits.val, data_prep_s, resume)


def _fit(cfg: DictConfig, out_dir: Path, tokenizer: Any, model: Any, family: Any, train_ds: Any, val_ds: Any,
         prompts: list[list[int]], val_frame: Any, data_prep_s: float, resume: str | None) -> float:
    """Run the Trainer with dialsum's callbacks and write the run folder."""
    from dialsum.engine.callbacks import CsvLogger, EvaluateAtEnd, MetricHistory, NanGuard, ProgressLog, StepTimer
    from dialsum.engine.scoring import SummaryScorer
    from dialsum.engine.checkpoints import check_fits
    from dialsum.engine.trainer import GenerationEval, build_trainer, training_arguments

    generation_eval = GenerationEval(prompts=prompts, references=list(val_frame["summary"]),
                                     fnames=list(val_frame["fname"]), dialogues=list(val_frame["dialogue"]),
                                     gen_cfg=cfg.generation, scorer=SummaryScorer(cfg.metric),
                                     decoder_only=family.decoder_only, n_log_examples=int(cfg.artifacts.n_log_examples),
                                     cores=_core_share(cfg))
    history = MetricHistory()
    timer = StepTimer()
    callbacks: list = [NanGuard(), EvaluateAtEnd(), history, ProgressLog(), timer]
    if cfg.logger.name == "csv":
        callbacks.append(CsvLogger(out_dir / cfg.logger.filename))
    bridge = _trial_bridge(cfg)
    if bridge is not None:
        callbacks.append(bridge)
    if cfg.trial.number is not None:  # a sweep trial: stop between steps when the sweep is interrupted
        from dialsum.sweep.bridge import StopOnSweepInterrupt

        callbacks.append(StopOnSweepInterrupt())
    tracker = None
    if cfg.logger.name == "wandb":
        from dialsum.tracking.wandb_logger import WandbLogger

        tracker = WandbLogger.from_config(cfg, out_dir, generation_eval)
        callbacks.append(tracker)
    try:
        args = training_arguments(cfg, out_dir, family.decoder_only)
        trainer = build_trainer(cfg, args, model, tokenizer, train_ds, val_ds, generation_eval, callbacks)
        started = time.perf_counter()
        if resume is not None:
            check_fits(Path(resume), model.config)  # another model's checkpoint: refused by the setting that differs
        result = trainer.train(resume_from_checkpoint=resume)
        train_time = time.perf_counter() - started
        pruned = bridge is not None and bridge.pruned
        started = time.perf_counter()  # the kept (best) model, scored once more for predictions.jsonl
        best_metrics = {} if pruned else generation_eval.run(trainer.model, tokenizer, args.device)
        metrics = _summarise(cfg, history.evaluations, best_metrics, trainer, result, train_time, data_prep_s)
        metrics["final_eval_s"] = round(time.perf_counter() - started, 3)
        metrics["train_samples_per_s"] = timer.samples_per_s()  # optimizer steps only (no eval/saves)
        metrics["state"] = "pruned" if pruned else "completed"
        metrics["baseline_first_utterance"] = {f"eval/{k}": v for k, v in generation_eval.scorer.baseline(
            generation_eval.dialogues, generation_eval.references).items()}
        _write_folder(cfg, out_dir, trainer, tokenizer, generation_eval.last_rows, metrics)
    except BaseException:
        if tracker is not None:
            tracker.finish({}, "failed")
        if cfg.trial.get("number") is not None and not cfg.artifacts.keep_checkpoints:
            # a sweep never resumes a failed or stopped trial's folder (its params rerun in a new trial): its
            # checkpoints (GBs with a hub model) would only fill the disk
            shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
        raise
    if tracker is not None:
        tracker.finish(metrics, metrics["state"])
    if metrics["state"] == "pruned":
        import optuna

        raise optuna.TrialPruned(f"pruned after {bridge.n_reports} evaluation(s)")
    return float(metrics["objective"]["value"])


def _core_share(cfg: DictConfig):
    """A sweep trial on a local worker generates on the cores of finished workers (unless torch_threads is fixed)."""
    path = cfg.trial.get("cpu_share")
    if not path or cfg.hardware.get("torch_threads"):
        return None
    from dialsum.sweep.core_share import FollowCoreShare

    return FollowCoreShare(str(path))


def _trial_bridge(cfg: DictConfig):
    """Connect to the Optuna trial when dialsum's sweeper launched this job (reports every evaluation)."""
    trial = cfg.trial
    if trial.number is None or not trial.storage:
        return None
    from hydra.core.hydra_config import HydraConfig

    sweeper = HydraConfig.get().sweeper
    pruner = OmegaConf.to_container(sweeper.pruner, resolve=True) if sweeper.get("pruner") else None
    direction = sweeper.get("direction", "maximize")
    if not isinstance(direction, str) and len(direction) > 1:
        from dialsum.sweep.bridge import record_device

        record_device(trial.study_name, trial.storage, int(trial.number))  # for `dialsum status`
        return None  # multi-objective: Optuna takes no intermediate values (and cannot prune)
    from dialsum.sweep.bridge import TrialBridge

    return TrialBridge.connect(trial.study_name, trial.storage, int(trial.number), pruner,
                               "eval_" + trainer_key(cfg.objective.metric))


def _resume_path(cfg: DictConfig, out_dir: Path, multirun: bool = False) -> str | None:
    """training.resume_from_checkpoint: a folder, or true for the latest checkpoint of this run folder (in a
    multirun, a job without one starts from the beginning: the command resumes the jobs that were stopped)."""
    value = cfg.training.resume_from_checkpoint
    if value in (None, False):
        return None
    if value is True:
        from dialsum.engine.checkpoints import latest_checkpoint

        latest = latest_checkpoint(out_dir)  # HF's own choice (the highest number) may be a half-written one
        if latest is None and multirun:
            log.info("training.resume_from_checkpoint=true: %s holds no checkpoint, so this job starts from the "
                     "beginning", out_dir)
            return None
        if latest is None:
            raise DialsumError(f"training.resume_from_checkpoint=true, but {out_dir / 'checkpoints'} holds no "
                               "complete checkpoint (one is saved every training.save_steps steps). Resume needs "
                               "the stopped run's folder (hydra.run.dir=<it>); or train from the start without it.")
        return str(latest)
    if not Path(value).is_dir():
        raise DialsumError(f"training.resume_from_checkpoint={value!r}: no such checkpoint folder.")
    return str(value)


def _summarise(cfg: DictConfig, evaluations: list[dict[str, Any]], best_metrics: dict[str, float], trainer: Any,
               result: Any, train_time: float, data_prep_s: float) -> dict[str, Any]:
    """metrics.json content: objective, best and final evaluation, timings and memory."""
    from dialsum.tracking.resources import run_record

    metric, direction = cfg.objective.metric, cfg.objective.direction
    pick = max if direction == "maximize" else min
    best = pick(evaluations, key=lambda e: e[metric]) if evaluations else {}
    steps = max(1, trainer.state.global_step)
    return {
        "model": cfg.model.name, "init": cfg.model.init, "data": cfg.data.name,
        "objective": {"metric": metric, "direction": direction, "value": best.get(metric)},
        "best": {k: v for k, v in best.items() if k.startswith("eval/")},
        "best_step": best.get("step"),
        "best_model_eval": {f"eval/{k}": v for k, v in best_metrics.items()},
        "final": {k: v for k, v in (evaluations[-1] if evaluations else {}).items() if k.startswith("eval/")},
        "n_evaluations": len(evaluations),
        "history": evaluations,
        "train": to_public(result.metrics),
        "global_step": trainer.state.global_step,
        "train_time_s": round(train_time, 3),
        "step_time_s": round(train_time / steps, 4),
        "data_prep_s": round(data_prep_s, 3),
        "train_batch_size": getattr(trainer.state, "train_batch_size", None),  # per device x n_gpu: no DataParallel
        **run_record(cfg.hardware.accelerator),  # device, this run's peak memory, started_at / finished_at
    }


def _write_folder(cfg: DictConfig, out_dir: Path, trainer: Any, tokenizer: Any, rows: list[dict[str, Any]],
                  metrics: dict[str, Any]) -> None:
    """Model, predictions, environment, then metrics.json (the 'finished' marker); rank 0 only under DDP."""
    from dialsum.tracking.run_folder import save_model, write_results

    if not trainer.is_world_process_zero():
        return  # torchrun / accelerate launch: the other ranks trained the same model
    if cfg.artifacts.save_model and metrics["state"] != "pruned":  # a stopped trial's model is never used
        save_model(out_dir, trainer.model, tokenizer)
    if not cfg.artifacts.keep_checkpoints:
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    write_results(out_dir, metrics, rows, int(cfg.training.seed))
    value = metrics["objective"]["value"]
    base = metrics["baseline_first_utterance"].get(cfg.objective.metric)
    ratio = f", {value / base:.1f}x" if value is not None and base else ""
    log.info("best %s = %s at step %s (first-utterance baseline %s%s); run folder: %s", cfg.objective.metric,
             f"{value:.4f}" if value is not None else "n/a", metrics["best_step"],
             f"{base:.4f}" if base is not None else "n/a", ratio, out_dir)
