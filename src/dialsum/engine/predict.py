"""Summaries for a CSV with a trained run folder; writes the competition submission `fname,summary`."""
from __future__ import annotations

import io
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from dialsum.errors import DialsumError

log = logging.getLogger("dialsum")


def predict(cfg: DictConfig, out_dir: Path) -> float | None:
    """Generate for every dialogue; score too when the CSV has summaries. Returns combined ROUGE or None."""
    run_dir = Path(cfg.run_dir).expanduser()
    run_cfg = _run_config(run_dir)
    output = _output_path(str(cfg.output_path or run_dir / "submission.csv"))
    from dialsum.data.checks import report_duplicates
    from dialsum.data.csv_io import read_dialogue_csv
    from dialsum.data.features import FeatureSpec, tokenize_frame
    from dialsum.data.splits import normalize_frame, resolve_paths
    from dialsum.engine.generation import generate_summaries
    from dialsum.models.registry import get_family
    from dialsum.sweep.devices import check_hardware, configure

    check_hardware(cfg.hardware)  # config only; the GPU is pinned (configure) before CUDA starts
    placement = configure(cfg.hardware, 1, Path(cfg.paths.cache_dir) / "device_locks", shared=True)
    log.info("device: %s", placement)
    test_path = cfg.data.test_path or resolve_paths(run_cfg.data)["test"]
    if test_path is None:
        raise DialsumError("no test CSV: set data.test_path=<csv with fname, dialogue>.")
    test_path = Path(test_path).expanduser()
    if not test_path.is_file():
        raise DialsumError(f"predict.py needs the test CSV: data.test_path={test_path} does not exist; set "
                           "data.test_path=<csv with fname, dialogue> (training never needs it).")
    gen_cfg = _generation(run_cfg.generation, cfg.get("generation"))
    frame = read_dialogue_csv(test_path, require_summary=False, keep_empty=True)  # every fname gets a row
    frame = normalize_frame(frame, cfg.data.normalization or run_cfg.data.normalization)
    report_duplicates(frame, "test")  # the submission keeps every row, duplicates too
    family = get_family(run_cfg.model.family)
    tokenizer, model = _load_model(run_dir, family, run_cfg.model)
    from dialsum.models.checkpoint import check_lengths

    check_lengths(model.config, run_cfg.model, int(gen_cfg.max_new_tokens))  # an index error after generating
    model = model.to(placement.device)  # hardware=gpu: generate on the GPU, not where from_pretrained put it
    spec = FeatureSpec.from_model_config(run_cfg.model, family.decoder_only)
    empty = (frame["dialogue"].str.strip() == "").tolist()
    generated, gen_lengths = [], []
    if not all(empty):
        rows = tokenize_frame(frame[[not e for e in empty]], tokenizer, spec, with_labels=False)
        generated, gen_lengths = generate_summaries(model, tokenizer, [r["input_ids"] for r in rows], gen_cfg,
                                                    family.decoder_only, model.device)
    texts, lengths = _in_row_order(empty, generated, gen_lengths)
    _write_submission(output, list(frame["fname"]), texts)
    log.info("wrote %d summaries to %s", len(texts), output)
    if _scorable(frame):
        from dialsum.engine.scoring import SummaryScorer

        metrics, _ = SummaryScorer(_metric(run_cfg.get("metric"), cfg)).score(texts, list(frame["summary"]), lengths)
        log.info("scored against the CSV's summaries: %s", {k: round(v, 4) for k, v in metrics.items()})
        return metrics["rouge_combined_f1"]
    return None


def _output_path(text: str) -> Path:
    """Where the submission goes, checked before any generation: a folder (existing, or written with a trailing
    '/') gets submission.csv inside it."""
    import os

    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", os.sep)):
        path = path / "submission.csv"
    folder = next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise DialsumError(f"output_path={path}: {folder} is not a writable folder; pick another output_path.")
    return path


def _scorable(frame) -> bool:
    """Score only against a complete summary column; say so when it is partly filled."""
    if "summary" not in frame.columns:
        return False
    missing = int((frame["summary"].str.strip() == "").sum())
    if missing and missing < len(frame):
        log.warning("the CSV's summary column is empty in %d of %d rows: the summaries are not scored",
                    missing, len(frame))
    return missing == 0


def _generation(run_generation: DictConfig, asked: DictConfig | None) -> DictConfig:
    """The run's decoding settings with those given to predict.py on top (null keeps the run's value)."""
    from dialsum.config_schema import GenerationSchema, check_section

    given = {k: v for k, v in OmegaConf.to_container(asked or {}, resolve=True).items() if v is not None}
    merged = OmegaConf.merge(run_generation, given)
    check_section("generation", OmegaConf.to_container(merged, resolve=True), GenerationSchema)
    log.info("generation: %s%s", dict(merged), f" (changed: {given})" if given else " (as the run)")
    return merged


def _metric(run_metric: DictConfig | None, cfg: DictConfig) -> DictConfig:
    """The run's ROUGE settings (its tokenizer changes the numbers a lot), with the metric.* keys given to
    predict.py on top; `metric=<option>` takes that file whole."""
    from hydra.core.hydra_config import HydraConfig

    from dialsum.sweep.job_folder import override_key

    given = [override_key(str(o)) for o in HydraConfig.get().overrides.task] if HydraConfig.initialized() else []
    if run_metric is None or "metric" in given:
        return cfg.metric
    merged = OmegaConf.merge(cfg.metric, run_metric)  # a key the run's config lacks keeps predict's default
    for key in (k for k in given if k.startswith("metric.")):
        OmegaConf.update(merged, key.removeprefix("metric."), OmegaConf.select(cfg, key), force_add=True)
    log.info("scoring: %s ROUGE%s", merged.tokenizer, " (as the run)" if merged == run_metric else "")
    return merged


def _in_row_order(empty: list[bool], generated: list[str], lengths: list[int]) -> tuple[list[str], list[int]]:
    """Generated summaries back in the CSV's rows; a row with an empty dialogue gets an empty summary."""
    texts, counts, it = [], [], iter(zip(generated, lengths))
    for is_empty in empty:
        text, length = ("", 0) if is_empty else next(it)
        texts.append(text)
        counts.append(length)
    return texts, counts


def _run_config(run_dir: Path) -> DictConfig:
    """The config the run was trained with (Hydra's .hydra/config.yaml)."""
    from dialsum.engine.checkpoints import latest_checkpoint

    path = run_dir / ".hydra" / "config.yaml"
    finished = (run_dir / "metrics.json").is_file()
    if path.is_file() and not finished and not (run_dir / "model").is_dir():
        checkpoint = latest_checkpoint(run_dir)
        resume = (f"; resume it first: python train.py hydra.run.dir={run_dir} "
                  f"training.resume_from_checkpoint={checkpoint} (with its other settings)" if checkpoint else
                  "; its train.log says why (it kept no checkpoint to resume from)")
        raise DialsumError(f"run_dir={run_dir} holds a run that never finished (or is still training), so no "
                           f"model yet{resume}.")
    if path.is_file() and not (run_dir / "model").is_dir() and OmegaConf.select(
            OmegaConf.load(path), "artifacts.save_model") is False:
        raise DialsumError(f"run_dir={run_dir} was trained with artifacts.save_model=false (debug=fast sets it), "
                           "so it kept no model to predict with; retrain without it.")
    trials = sorted(p.parent.parent.name for p in run_dir.glob("*/.hydra/config.yaml"))
    if not path.is_file() and trials:
        raise DialsumError(f"run_dir={run_dir} is a sweep folder: {_job_folder_hint(run_dir)}")
    if not (run_dir / "model").is_dir() or not path.is_file():
        raise DialsumError(f"run_dir={run_dir} is not a finished dialsum run folder (needs model/ and "
                           ".hydra/config.yaml); pass a folder under outputs/ or multirun/.")
    return OmegaConf.load(path)


def _job_folder_hint(run_dir: Path) -> str:
    """Which of a sweep's job folders to pass: the best trial's when it kept a model, else those that did
    (a pruned trial keeps none)."""
    from dialsum.analysis.study_io import read_summary

    best = [b.get("number") for b in (read_summary(run_dir) or {}).get("best") or []]
    with_model = sorted((p.parent.name for p in run_dir.glob("*/model")), key=lambda n: (len(n), n))
    kept = [str(n) for n in best if str(n) in with_model]
    if kept:
        return f"pass the best trial's job folder: run_dir={run_dir / kept[0]}"
    if with_model:
        return (f"pass one of its job folders that kept a model: run_dir={run_dir / with_model[0]}"
                + (f" (also {', '.join(with_model[1:4])}{', ...' if len(with_model) > 4 else ''})"
                   if len(with_model) > 1 else "") + "; metrics.json in each holds its scores.")
    configs = sorted(run_dir.glob("*/.hydra/config.yaml"))
    if configs and OmegaConf.select(OmegaConf.load(configs[0]), "artifacts.save_model") is False:
        return ("its jobs ran with artifacts.save_model=false (debug=fast sets it), so none kept a model; retrain "
                "the one you want without it.")
    if (run_dir / "sweep_summary.json").is_file() or (run_dir / "optuna_journal.log").is_file():
        return ("none of its job folders kept a model (a pruned trial keeps none); retrain the best with `dialsum "
                "export-best`, then predict with that run.")
    return "none of its job folders kept a model; each job's train.log says how it ended."


def _load_model(run_dir: Path, family, model_cfg: DictConfig):
    """The saved best model and its tokenizer (tags included), loaded the way training loaded it."""
    import transformers

    from dialsum.models.builder import load_run_tokenizer

    tokenizer = load_run_tokenizer(run_dir / "model", model_cfg)
    model = getattr(transformers, family.model_class).from_pretrained(run_dir / "model")
    return tokenizer, model


def _write_submission(path: Path, fnames: list[str], summaries: list[str]) -> None:
    """`fname,summary` CSV, written atomically."""
    import pandas as pd

    from dialsum.tracking.atomic import write_text

    buffer = io.StringIO()
    pd.DataFrame({"fname": fnames, "summary": summaries}).to_csv(buffer, index=False)
    try:
        write_text(path, buffer.getvalue())
    except OSError as err:  # disk full, read-only mount: the earlier file, if any, is untouched
        raise DialsumError(f"could not write the submission to {path}: {err.strerror or err}; free space or "
                           "pick another output_path.") from None
