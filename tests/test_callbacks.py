"""Trainer callbacks that protect a sweep: a NaN loss fails the trial at once; step timing."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from dialsum.engine.callbacks import EvaluateAtEnd, NanGuard, StepTimer
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


def test_nan_loss_with_fp16_names_the_overflow() -> None:
    with pytest.raises(TrainingDiverged, match="float16 overflow .* hardware=bf16"):
        NanGuard().on_log(SimpleNamespace(fp16=True), TrainerState(global_step=3), TrainerControl(),
                          logs={"loss": float("inf")})


def test_step_timer_counts_optimizer_steps_only(monkeypatch) -> None:
    from dialsum.engine import callbacks

    clock = [100.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])  # a clock the test moves: no flakes
    args = SimpleNamespace(per_device_train_batch_size=8, gradient_accumulation_steps=2, world_size=1)
    timer, state = StepTimer(), TrainerState(train_batch_size=8)
    for step in (1, 2, 3):
        timer.on_step_begin(args, state, TrainerControl())
        clock[0] += 0.01
        state.global_step = step
        timer.on_step_end(args, state, TrainerControl())
        clock[0] += 0.05  # evaluation / saving between steps: not counted
    timed = timer.steps[1:]  # step 1 is warm-up
    assert [n for _, n in timed] == [16, 16] and sum(s for s, _ in timed) == pytest.approx(0.02)
    assert timer.samples_per_s() == round(32 / sum(s for s, _ in timed), 2)
