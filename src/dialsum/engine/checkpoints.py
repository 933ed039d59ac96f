"""Which Trainer checkpoint a stopped run can resume from (no heavy imports: the stop message uses it)."""
from __future__ import annotations

from pathlib import Path

CHECKPOINTS_DIR = "checkpoints"
COMPLETE_MARKER = "trainer_state.json"  # HF's Trainer writes it last: a checkpoint without it was cut off


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint HF finished writing; a kill during a save leaves a newer, partial one behind."""
    done = [p for p in (run_dir / CHECKPOINTS_DIR).glob("checkpoint-*")
            if p.name.rsplit("-", 1)[-1].isdigit() and (p / COMPLETE_MARKER).is_file()]
    return max(done, key=lambda p: int(p.name.rsplit("-", 1)[-1]), default=None)
