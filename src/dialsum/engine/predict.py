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
    run_dir = Path(cfg.run_dir)
    run_cfg = _run_config(run_dir)
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
    if not Path(test_path).is_file():
        raise DialsumError(f"predict.py needs the test CSV: data.test_path={test_path} does not exist; set "
                           "data.test_path=<csv with fname, dialogue> (training never needs it).")
    frame = read_dialogue_csv(test_path, require_summary=False)
    frame = normalize_frame(frame, cfg.data.normalization or run_cfg.data.normalization)
    family = get_family(run_cfg.model.family)
    tokenizer, model = _load_model(run_dir, family, run_cfg.model)
    model = model.to(placement.device)  # hardware=gpu: generate on the GPU, not where from_pretrained put it
    spec = FeatureSpec.from_model_config(run_cfg.model, family.decoder_only)
    prompts = [r["input_ids"] for r in tokenize_frame(frame, tokenizer, spec, with_labels=False)]
    gen_cfg = cfg.get("generation") or run_cfg.generation
    texts, lengths = generate_summaries(model, tokenizer, prompts, gen_cfg, family.decoder_only, model.device)
    output = Path(cfg.output_path or run_dir / "submission.csv")
    _write_submission(output, list(frame["fname"]), texts)
    log.info("wrote %d summaries to %s", len(texts), output)
    if "summary" in frame.columns and (frame["summary"].str.strip() != "").all():
        from dialsum.engine.scoring import SummaryScorer

        metrics, _ = SummaryScorer(cfg.metric).score(texts, list(frame["summary"]), lengths)
        log.info("scored against the CSV's summaries: %s", {k: round(v, 4) for k, v in metrics.items()})
        return metrics["rouge_combined_f1"]
    return None


def _run_config(run_dir: Path) -> DictConfig:
    """The config the run was trained with (Hydra's .hydra/config.yaml)."""
    path = run_dir / ".hydra" / "config.yaml"
    if not (run_dir / "model").is_dir() or not path.is_file():
        raise DialsumError(f"run_dir={run_dir} is not a finished dialsum run folder (needs model/ and "
                           ".hydra/config.yaml); pass a folder under outputs/ or multirun/.")
    return OmegaConf.load(path)


def _load_model(run_dir: Path, family, model_cfg: DictConfig):
    """The saved best model and its tokenizer (tags included), loaded the way training loaded it."""
    import transformers

    from dialsum.models.checkpoint import load_tokenizer

    checkpoint = model_cfg.get("checkpoint") if model_cfg.get("init") == "pretrained" else None
    tokenizer = load_tokenizer(str(run_dir / "model"), checkpoint or {})
    model = getattr(transformers, family.model_class).from_pretrained(run_dir / "model")
    return tokenizer, model


def _write_submission(path: Path, fnames: list[str], summaries: list[str]) -> None:
    """`fname,summary` CSV, written atomically."""
    import pandas as pd

    from dialsum.tracking.atomic import write_text

    buffer = io.StringIO()
    pd.DataFrame({"fname": fnames, "summary": summaries}).to_csv(buffer, index=False)
    write_text(path, buffer.getvalue())
