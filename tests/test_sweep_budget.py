"""A study budget in training steps or wall hours besides n_trials (issue 10): the sweep stops asking when it is
spent, running trials finish, and every sweeper of the study counts the same steps and the same start (both live
in the storage). The sweeper is real; the jobs are fake (tests/fake_app.py), so each test takes seconds."""
from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from conftest import run_cli
from dialsum.errors import DialsumError
from dialsum.sweep import budget
from dialsum.sweep.bridge import TrialBridge
from dialsum.sweep.storage import open_storage

FAKE = "tests/fake_app.py"
RANDOM = ["hydra.sweeper.sampler.name=random", "hydra.sweeper.pruner.name=none", "hydra.sweeper.skip_duplicates=false",
          "training.learning_rate=tag(log, interval(1e-4, 1e-2))"]


def _run(sweep_dir: Path, cache_dir: Path, *extra: str, env: dict[str, str] | None = None):
    """The fake sweep, study 'budget', to the end."""
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    args = ["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=budget",
            *RANDOM, *extra]
    return run_cli(args, sweep_dir.parent, cache_dir, script=FAKE, timeout=180, env_extra=env)


def _trials(sweep_dir: Path) -> list[optuna.trial.FrozenTrial]:
    """The study's trials in the sweep folder's journal."""
    storage = open_storage(str(sweep_dir / "optuna_journal.log"))
    return optuna.load_study(study_name="budget", storage=storage).trials


def test_step_budget_stops_asking_once_the_trials_ran_that_many_steps(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = _run(sweep_dir, cache_dir, "hydra.sweeper.n_trials=10", "hydra.sweeper.budget.steps=70",
                  env={"FAKE_STEPS": "30"})
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _trials(sweep_dir)
    assert len(trials) == 3  # 30 + 30 < 70, the third brings it to 90: no fourth
    assert [t.user_attrs[budget.STEPS_ATTR] for t in trials] == [30, 30, 30]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    results = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert results["stopped"].startswith("step budget spent: 90 of 70"), results


@pytest.mark.slow  # ~15 s: a two-worker fake sweep
def test_the_summary_names_the_steps_spent_once_the_running_trials_ended(tmp_path: Path, cache_dir: Path) -> None:
    """With 2 workers the budget runs out while a trial still trains; the summary kept the spend of that moment."""
    sweep_dir = tmp_path / "sweep"
    result = _run(sweep_dir, cache_dir, "hydra.sweeper.n_trials=10", "hydra.sweeper.budget.steps=50",
                  "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2", "hydra.launcher.n_jobs=2",
                  env={"FAKE_STEPS": "30", "FAKE_SLEEP": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    spent = sum(t.user_attrs[budget.STEPS_ATTR] for t in _trials(sweep_dir))
    results = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert results["stopped"].startswith(f"step budget spent: {spent} of 50"), (results, spent)


def test_hour_budget_counts_from_the_studys_first_trial_across_a_resume(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    first = _run(sweep_dir, cache_dir, "hydra.sweeper.n_trials=1")
    assert first.returncode == 0, first.stderr[-3000:]
    # 0.0001 h = 0.36 s: already past, counted from the first run's trial, so the rerun starts nothing
    again = _run(sweep_dir, cache_dir, "hydra.sweeper.n_trials=5", "hydra.sweeper.budget.hours=0.0001")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(_trials(sweep_dir)) == 1
    assert "time budget spent" in json.loads((sweep_dir / "sweep_summary.json").read_text())["stopped"]


@pytest.mark.parametrize("bad", ["hydra.sweeper.budget.steps=0", "hydra.sweeper.budget.hours=-1"])
def test_bad_budget_is_one_readable_message(tmp_path: Path, cache_dir: Path, bad: str) -> None:
    sweep_dir = tmp_path / "sweep"
    result = _run(sweep_dir, cache_dir, bad)
    assert result.returncode == 2
    assert "give a number > 0" in result.stderr and "Traceback" not in result.stderr
    assert not (sweep_dir / "optuna_journal.log").exists()  # refused before the study was created


def test_budget_state_sums_every_trials_steps_and_waits_for_running_ones() -> None:
    study = optuna.create_study()
    for steps, state in ((40, optuna.trial.TrialState.PRUNED), (100, optuna.trial.TrialState.COMPLETE)):
        trial = study.ask()
        trial.set_user_attr(budget.STEPS_ATTR, steps)
        study.tell(trial, 1.0 if state == optuna.trial.TrialState.COMPLETE else None, state=state)
    running = study.ask()
    running.set_user_attr(budget.STEPS_ATTR, 20)  # a running trial's steps so far (its bridge set them)
    state = budget.read(study)
    assert (state.steps, state.finished, state.running) == (160, 2, (2,))
    limits = budget.Limits(n_trials=10, steps=150)
    assert state.spent(limits) and not state.has_room(limits) and not state.done(limits)
    assert state.has_room(budget.Limits(n_trials=10, steps=200))
    with pytest.raises(DialsumError, match="unknown key"):
        budget.Limits.from_settings(10, {"epochs": 3})


def test_bridge_records_the_steps_run_so_far_at_each_evaluation() -> None:
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    bridge = TrialBridge(trial, "eval_rouge_combined_f1")

    class State:
        global_step = 25

    bridge.on_evaluate(None, State(), type("C", (), {"should_training_stop": False})(),
                       metrics={"eval_rouge_combined_f1": 0.3})
    assert study.trials[0].user_attrs[budget.STEPS_ATTR] == 25


def _tpe_sweep(sweep_dir: Path, cache_dir: Path, n_startup: int, n_trials: int) -> list[optuna.trial.FrozenTrial]:
    """A TPE sweep of the fake app over 6 points, no pruner; its trials."""
    space = ["training.learning_rate=choice(1e-3, 3e-3, 1e-2)", "training.per_device_train_batch_size=choice(4, 8)"]
    args = ["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=budget",
            "hydra.sweeper.sampler.name=tpe", f"hydra.sweeper.sampler.n_startup_trials={n_startup}",
            "hydra.sweeper.pruner.name=none", f"hydra.sweeper.n_trials={n_trials}", *space]
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    result = run_cli(args, sweep_dir.parent, cache_dir, script=FAKE, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return _trials(sweep_dir)


def test_tpe_start_up_points_on_a_finite_space_are_distinct(tmp_path: Path, cache_dir: Path) -> None:
    """6 random start-up draws from 6 points repeat one with probability 98.5 %; queued ones never do."""
    trials = _tpe_sweep(tmp_path / "sweep", cache_dir, n_startup=6, n_trials=6)
    assert len(trials) == 6 and all(t.user_attrs.get("startup_point") for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6
    assert not any(t.user_attrs.get("duplicate_of") is not None for t in trials)


def test_fewer_trials_than_start_up_points_leave_nothing_queued(tmp_path: Path, cache_dir: Path) -> None:
    """Points queued past n_trials would stay WAITING, and `dialsum status` would call the done sweep unfinished."""
    from dialsum.analysis import status
    from dialsum.analysis.study_io import load_sweep

    trials = _tpe_sweep(tmp_path / "sweep", cache_dir, n_startup=4, n_trials=2)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    text = status.render(status.gather(load_sweep(tmp_path / "sweep")))
    assert "(finished)" in text and "0 running, 0 queued" in text, text
