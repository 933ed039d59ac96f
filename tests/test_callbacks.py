"""Trainer callbacks that protect a sweep: a NaN loss fails the trial at once."""
from __future__ import annotations

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from dialsum.engine.callbacks import EvaluateAtEnd, NanGuard
from dialsum.errors import TrainingDiverged


def test_nan_loss_stops_the_run() -> None:
    state = TrainerState(global_step=7)
    with pytest.raises(TrainingDiverged, match="loss became nan at step 7"):
        NanGuard().on_log(None, state, TrainerControl(), logs={"loss": float("nan")})
    NanGuard().on_log(None, state, TrainerControl(), logs={"loss": 1.5})  # finite: nothing happens


def test_last_step_is_always_evaluated(tmp_path) -> None:
    control = EvaluateAtEnd().on_step_end(TrainingArguments(output_dir=str(tmp_path)),
                                          TrainerState(global_step=10, max_steps=10), TrainerControl())
    assert control.should_evaluate and control.should_save
