"""Which Trainer checkpoint a stopped run can resume from (no heavy imports: the stop message uses it)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHECKPOINTS_DIR = "checkpoints"
COMPLETE_MARKER = "trainer_state.json"  # HF's Trainer writes it last: a checkpoint without it was cut off


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint HF finished writing; a kill during a save leaves a newer, partial one behind."""
    done = [p for p in (run_dir / CHECKPOINTS_DIR).glob("checkpoint-*")
            if p.name.rsplit("-", 1)[-1].isdigit() and (p / COMPLETE_MARKER).is_file()]
    return max(done, key=lambda p: int(p.name.rsplit("-", 1)[-1]), default=None)


def refuse_reuse(run_dir: Path, resuming: bool, overwrite: bool) -> None:
    """Training into a folder that holds a run would replace its model and metrics, or start afresh over the
    checkpoints a resume needs, without a word (a resume command with its checkpoint argument left out)."""
    from dialsum.errors import DialsumError

    if resuming or overwrite:
        return
    if (run_dir / "metrics.json").is_file() or (run_dir / "model").is_dir():
        raise DialsumError(f"{run_dir} holds a finished run (metrics.json, model/); training into it would replace "
                           "it. Give another folder (hydra.run.dir; hydra.sweep.dir for a multirun), or "
                           "artifacts.overwrite=true to replace it.")
    latest = latest_checkpoint(run_dir)
    if latest is not None:
        raise DialsumError(f"{run_dir} holds checkpoints of an unfinished run; resume it with "
                           f"training.resume_from_checkpoint={latest}, or start it again with artifacts.overwrite=true.")


SHAPE_KEYS = ("model_type", "vocab_size", "d_model", "hidden_size", "n_embd", "encoder_layers", "decoder_layers",
              "num_layers", "num_decoder_layers", "n_layer")  # what a checkpoint's weights must match


def check_fits(checkpoint: Path, model_config: Any) -> None:
    """A checkpoint of another model (resumed with model=t5 over a kobart run) fails deep in torch with two
    screens of missing keys: say which setting differs instead."""
    from dialsum.errors import DialsumError

    try:
        saved = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # not a model checkpoint dialsum wrote: let the Trainer judge it
    ours = model_config.to_dict()
    differ = [f"{k}: {saved[k]} there, {ours[k]} now" for k in SHAPE_KEYS if k in saved and k in ours and saved[k] != ours[k]]
    if differ:
        raise DialsumError(f"{checkpoint} was saved by another model ({'; '.join(differ)}). Resume with the settings "
                           "that trained it (model=..., model.scratch.*): the run folder's .hydra/overrides.yaml "
                           "lists them.")
