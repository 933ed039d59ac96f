"""Which Trainer checkpoint a stopped run can resume from (no heavy imports: the stop message uses it)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CHECKPOINTS_DIR = "checkpoints"
COMPLETE_MARKER = "trainer_state.json"  # HF's Trainer writes it last: a checkpoint without it was cut off


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint HF finished writing; a kill during a save leaves a newer, partial one behind."""
    done = [p for p in (run_dir / CHECKPOINTS_DIR).glob("checkpoint-*")
            if p.name.rsplit("-", 1)[-1].isdigit() and (p / COMPLETE_MARKER).is_file()]
    return max(done, key=lambda p: int(p.name.rsplit("-", 1)[-1]), default=None)


RUN_OUTPUTS = ("metrics.json", "metrics.csv", "predictions.jsonl", "submission.csv", "environment.json", "model",
               CHECKPOINTS_DIR)  # what a run writes into its folder; artifacts.overwrite=true clears them first


def finished_run(run_dir: Path) -> bool:
    """The folder holds a finished run's outputs (its metrics or model)."""
    return (run_dir / "metrics.json").is_file() or (run_dir / "model").is_dir()


def refuse_reuse(run_dir: Path, resume: str | None, overwrite: bool, multirun: bool = False) -> bool:
    """Training into a folder that holds a run would replace its model and metrics, or start afresh over the
    checkpoints a resume needs, without a word (a resume command with its checkpoint argument left out, or its
    folder renamed). Returns whether the caller clears the earlier run (artifacts.overwrite) before training."""
    from dialsum.errors import DialsumError

    if resume is not None and Path(resume).resolve().is_relative_to(run_dir.resolve()):
        return False  # this folder's own run goes on
    finished = finished_run(run_dir)
    latest = latest_checkpoint(run_dir)
    if overwrite or not (finished or latest):
        return overwrite and bool(finished or latest)
    if finished:
        raise DialsumError(f"{run_dir} holds a finished run ({', '.join(_outputs(run_dir))}); training into it would "
                           f"replace it. Give another folder ({'hydra.sweep.dir' if multirun else 'hydra.run.dir'}), "
                           "or artifacts.overwrite=true to replace it.")
    hint = "training.resume_from_checkpoint=true (each job its newest)" if multirun else \
        f"training.resume_from_checkpoint={latest}"
    raise DialsumError(f"{run_dir} holds checkpoints of an unfinished run; resume it with {hint}, or start it "
                       "again with artifacts.overwrite=true.")


def _outputs(run_dir: Path) -> list[str]:
    """The run outputs a folder holds, as named in a refusal."""
    return [name + ("/" if (run_dir / name).is_dir() else "") for name in RUN_OUTPUTS if (run_dir / name).exists()]


def clear_run(run_dir: Path) -> None:
    """artifacts.overwrite=true: the earlier run goes whole, so no stale model or checkpoint is taken for the new
    run's (rank 0 only under torchrun); Hydra's files and the log stay."""
    import shutil

    from dialsum import kept_config

    kept_config.forget()
    if int(os.environ.get("RANK", "0")) != 0:
        return
    for path in (run_dir / name for name in RUN_OUTPUTS):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


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
    differ = [f"{k}: {saved[k]} there, {ours[k]} now" for k in SHAPE_KEYS
              if k in saved and k in ours and saved[k] != ours[k]]
    if differ:
        raise DialsumError(f"{checkpoint} was saved by another model ({'; '.join(differ)}). Resume with the settings "
                           "that trained it (model=..., model.scratch.*): the run folder's .hydra/overrides.yaml "
                           "lists them.")


def step_problems(t: Any) -> list[str]:
    """dialsum keeps the best evaluation's checkpoint (load_best_model_at_end): HF then needs checkpoints saved
    when evaluations happen, and says so only after the model is loaded, in a traceback."""
    save, every = t.get("save_strategy", "steps"), t.get("eval_strategy", "steps")
    if save == "best":  # HF saves at each new best evaluation: nothing to line up
        return []
    if save != every:
        return [f"training.save_strategy={save!r} and training.eval_strategy={every!r}: give both the same value "
                "(the best evaluation's checkpoint is kept)"]
    s, e = t.get("save_steps"), t.get("eval_steps") or t.get("logging_steps")  # HF's fallback for eval_steps
    whole = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 and float(v).is_integer()
                for v in (s, e))  # below 1, a step count is a fraction of the run: HF checks it itself
    if save == "steps" and whole and int(s) % int(e):
        s, e = int(s), int(e)
        return [f"training.save_steps={s} is not a multiple of training.eval_steps={e} (the best evaluation's "
                f"checkpoint is kept); e.g. training.save_steps={e * max(1, round(s / e))}"]
    return []
