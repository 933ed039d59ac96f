"""Errors while a trial is being set up (a bug in the user's custom_search_space, a search space a forced resume
cannot take): the trial is failed with the message, never left RUNNING, and the sweep ends instead of waiting."""
from __future__ import annotations

from pathlib import Path

import optuna

from conftest import run_cli
from dialsum.sweep.storage import open_storage

FAKE = "tests/fake_app.py"
GRID = ["hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
        "training.per_device_train_batch_size=choice(4, 8)"]


def _sweep(sweep_dir: Path, cache_dir: Path, *extra: str, env: dict[str, str] | None = None):
    """The fake app's sweep, study 'setup', to the end."""
    args = ["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=setup", *extra]
    return run_cli(args, sweep_dir.parent, cache_dir, script=FAKE, timeout=120, env_extra=env)


def _states(sweep_dir: Path) -> list[str]:
    """State of every trial in the sweep folder's journal."""
    study = optuna.load_study(study_name="setup", storage=open_storage(str(sweep_dir / "optuna_journal.log")))
    return [t.state.name for t in study.trials]


def test_a_failing_custom_search_space_fails_its_trials_and_the_sweep_ends(tmp_path: Path, cache_dir: Path) -> None:
    (tmp_path / "badspace.py").write_text("def configure(cfg, trial):\n    trial.suggest_int('+extra', 1, 3)\n"
                                          "    raise RuntimeError('bug in my custom space')\n", encoding="utf-8")
    sweep_dir = tmp_path / "sweep"
    result = _sweep(sweep_dir, cache_dir, "hydra.sweeper.n_trials=2", "+hydra.sweeper.custom_search_space=badspace.configure",
                    "training.learning_rate=choice(1e-3, 3e-3)", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stderr[-3000:]  # stopped by its errors, not hung waiting on orphans
    states = _states(sweep_dir)
    assert states and set(states) == {"FAIL"}
    study = optuna.load_study(study_name="setup", storage=open_storage(str(sweep_dir / "optuna_journal.log")))
    assert "bug in my custom space" in study.trials[0].user_attrs["error"]


def test_a_forced_resume_with_another_choice_list_is_refused_before_any_trial(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    first = _sweep(sweep_dir, cache_dir, *GRID, "training.learning_rate=choice(1e-3, 3e-3)")
    assert first.returncode == 0, first.stderr[-3000:]
    again = _sweep(sweep_dir, cache_dir, *GRID, "training.learning_rate=choice(1e-3, 3e-3, 1e-2)",
                   "hydra.sweeper.n_trials=6", "hydra.sweeper.resume=force")
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr[-3000:]
    assert "does not support dynamic value space" in again.stderr and "hydra.sweeper.study_name=" in again.stderr
    assert _states(sweep_dir) == ["COMPLETE"] * 4  # nothing asked, nothing left RUNNING


def test_a_storage_that_cannot_be_opened_is_one_line(tmp_path: Path, cache_dir: Path, postgres_server) -> None:
    """A mistyped scheme, a database that does not exist: one message naming the (masked) URL, no retries."""
    missing_db = postgres_server.url("no_such_db").replace("postgres@", "postgres:s3cret@")
    for url, needle in (("postgresq://u:s3cret@127.0.0.1/x", "NoSuchModuleError"),
                        (missing_db, 'database "no_such_db" does not exist')):
        sweep_dir = tmp_path / "sweep"
        result = _sweep(sweep_dir, cache_dir, f"hydra.sweeper.storage={url}", "hydra.sweeper.n_trials=1")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert "cannot open the sweep storage" in result.stderr and needle in result.stderr
        assert "s3cret" not in result.stdout + result.stderr and "retrying" not in result.stderr
