"""dialsum's Optuna sweeper through the real CLI: results, failures, validation, pruning, parallel, resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from conftest import ROOT, run_cli
from dialsum.sweep.storage import open_storage

GRID_2X2 = ["hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
            "training.learning_rate=choice(1e-3, 3e-3)",
            "training.per_device_train_batch_size=choice(4, 8)"]


FIXED_LR_BATCH = ("training.learning_rate=choice(1e-3)", "training.per_device_train_batch_size=choice(8)")


def _sweep(sweep_dir: Path, *extra: str) -> list[str]:
    """A small Optuna sweep on the fast debug preset."""
    return ["-m", "hydra/sweeper=optuna", "debug=fast", f"hydra.sweep.dir={sweep_dir}",
            "hydra.sweeper.study_name=test", *extra]


def _results(sweep_dir: Path) -> list[dict]:
    """all_results.jsonl rows."""
    return [json.loads(x) for x in (sweep_dir / "all_results.jsonl").read_text(encoding="utf-8").splitlines()]


def _study(sweep_dir: Path) -> optuna.Study:
    """The study in the sweep folder's journal."""
    return optuna.load_study(study_name="test", storage=open_storage(str(sweep_dir / "optuna_journal.log")))


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory, cache_dir: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """A finished 4-trial grid sweep (module-scoped: several tests read it)."""
    cwd = tmp_path_factory.mktemp("grid")
    sweep_dir = cwd / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, *GRID_2X2, "hydra.sweeper.n_trials=10"), cwd, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, sweep_dir, result


def test_grid_sweep_runs_every_point_once(grid_sweep) -> None:
    _, sweep_dir, _ = grid_sweep
    rows = _results(sweep_dir)
    assert [r["state"] for r in rows] == ["COMPLETE"] * 4     # n_trials capped at the grid size
    points = {(r["params"]["training.learning_rate"], r["params"]["training.per_device_train_batch_size"]) for r in rows}
    assert len(points) == 4
    for row in rows:
        assert Path(row["job_dir"]).name == str(row["number"]) and (Path(row["job_dir"]) / "metrics.json").is_file()
        assert "eval/rouge_combined_f1" in row["best_metrics"] and row["duration_s"] > 0


def test_sweep_folder_outputs(grid_sweep) -> None:
    _, sweep_dir, result = grid_sweep
    for name in ("best_params.yaml", "best_config.yaml", "sweep_summary.json", "optuna_journal.log",
                 "report.html", "report.md"):
        assert (sweep_dir / name).is_file(), name
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text(encoding="utf-8"))
    assert summary["counts"] == {"COMPLETE": 4} and summary["worker_utilisation"] > 0
    assert f"optuna-dashboard {sweep_dir.resolve()}/optuna_journal.log" in result.stdout
    assert "retrain: python train.py debug=fast training.learning_rate=" in result.stdout


def test_trials_report_every_evaluation(grid_sweep) -> None:
    _, sweep_dir, _ = grid_sweep
    study = _study(sweep_dir)
    assert study.metric_names == ["eval/rouge_combined_f1"]  # the dashboard's label, not "Objective 0"
    for trial in study.trials:
        assert sorted(trial.intermediate_values) == [1, 2]  # debug=fast: 4 steps, eval every 2; step = evals done
        assert " cpu x" in trial.user_attrs["device"]  # recorded by the job, shown by `dialsum status`
        assert trial.user_attrs["torch_threads"] == (os.cpu_count() or 1)  # one worker: all cores


def test_best_config_reproduces_the_best_trial(grid_sweep, cache_dir: Path) -> None:
    cwd, sweep_dir, _ = grid_sweep
    best = _study(sweep_dir).best_trial
    result = run_cli(["--config-path", str(sweep_dir.resolve()), "--config-name", "best_config", "--cfg", "job"],
                     cwd, cache_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"learning_rate: {best.params['training.learning_rate']}" in result.stdout
    assert f"per_device_train_batch_size: {best.params['training.per_device_train_batch_size']}" in result.stdout
    assert "number: null" in result.stdout
    hydra_cfg = run_cli(["--config-path", str(sweep_dir.resolve()), "--config-name", "best_config", "--cfg", "hydra"],
                        cwd, cache_dir)  # runs into outputs/{model}_lr..., not Hydra's outputs/<date>/<time>
    assert "dir: outputs/${model.name}_lr${training.learning_rate}" in hydra_cfg.stdout, hydra_cfg.stdout[-2000:]
    assert "dialsum.kept_config.KeepRunConfig" in hydra_cfg.stdout and "chdir: false" in hydra_cfg.stdout
    threads = best.user_attrs["torch_threads"]  # the rerun trains on the same CPU threads as the trial did
    assert f"torch_threads: {threads}" in result.stdout
    assert f"hardware.torch_threads={threads}" in yaml.safe_load((sweep_dir / "best_params.yaml").read_text())["best"]["command"]


def test_rerun_resumes_without_new_trials(grid_sweep, cache_dir: Path) -> None:
    """n_trials counts the study's total: the same command again finds the study done."""
    cwd, sweep_dir, _ = grid_sweep
    result = run_cli(_sweep(sweep_dir, *GRID_2X2, "hydra.sweeper.n_trials=10"), cwd, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(_study(sweep_dir).trials) == 4
    assert "0 trial(s) to run" in result.stdout + result.stderr


def test_a_failing_trial_does_not_stop_the_sweep(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    (tmp_path / "my_conf").mkdir()  # a config folder of the user's own, given relative to the working directory
    result = run_cli(["--config-dir", "my_conf",
                      *_sweep(sweep_dir, "hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
                              "model.pretrained_name_or_path=/missing/checkpoint",  # a bad path for one point
                              "model.init=choice(pretrained, scratch)", *FIXED_LR_BATCH)],
                     tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    command = yaml.safe_load((sweep_dir / "best_params.yaml").read_text())["best"]["command"]
    assert command.startswith(f"python train.py --config-dir {tmp_path / 'my_conf'} ")  # runs from anywhere
    assert f"or: python train.py --config-path {sweep_dir}" in result.stdout
    states = {r["params"]["model.init"]: r for r in _results(sweep_dir)}
    assert states["scratch"]["state"] == "COMPLETE"
    assert states["pretrained"]["state"] == "FAIL" and "no such folder" in states["pretrained"]["error"]
    failed = [t for t in _study(sweep_dir).trials if t.state == optuna.trial.TrialState.FAIL]
    assert "error" in failed[0].user_attrs


@pytest.mark.slow  # moved from the fast run (it measured 10 min 29 s with the venv install): 12 s; the single-run divergence test stays
def test_a_diverging_trial_fails_and_leaves_no_checkpoints(tmp_path: Path, cache_dir: Path) -> None:
    """A NaN loss fails its trial (it ended COMPLETE with a 0.0 loss and could win); its checkpoints are removed
    (the sweep never resumes that folder, and with a hub model they are gigabytes)."""
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, "hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
                            "training.learning_rate=choice(1e-3, 1e6)", "training.per_device_train_batch_size=choice(8)",
                            "training.max_steps=8"), tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["params"]["training.learning_rate"]: r for r in _results(sweep_dir)}
    assert rows[1e-3]["state"] == "COMPLETE"
    assert rows[1e6]["state"] == "FAIL" and "loss became" in rows[1e6]["error"]
    assert not (Path(rows[1e6]["job_dir"]) / "checkpoints").exists()


def test_max_failure_rate_stops_the_sweep(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, "hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
                            "hydra.sweeper.max_failure_rate=0.25",
                            f"hydra.sweeper.storage=sqlite:///{tmp_path / 'study.db'}",  # any Optuna URL works
                            "model.init=pretrained", "model.pretrained_name_or_path=choice(/no/a, /no/b, /no/c, /no/d)",
                            *FIXED_LR_BATCH),
                     tmp_path, cache_dir)
    assert result.returncode == 2, result.stderr[-3000:]  # a script sees it failed, on its input (missing folders)
    assert len(_results(sweep_dir)) == 2                      # 2 failures > 0.25 x 4: no more launches
    assert (tmp_path / "study.db").is_file() and not (sweep_dir / "optuna_journal.log").exists()
    assert "exceed max_failure_rate" in result.stdout + result.stderr
    assert "no trial completed: see the errors in all_results.jsonl" in result.stdout


@pytest.mark.parametrize("param,message", [
    ("training.learning_rate=interval(0.1, 0.01)", "low > high"),
    ("training.learning_rate=tag(log, interval(0.0, 0.1))", "bounds > 0"),
    ("training.learnin_rate=choice(1e-3, 1e-4)", "not a key of the config"),
    # the README said the space's types were checked: 5 of 7 trials failed, then max_failure_rate stopped it
    ("training.per_device_train_batch_size=choice(8, abc)", "per_device_train_batch_size='abc': expected an integer"),
    ("training.per_device_train_batch_size=interval(4, 32)", "use int(interval(4, 32)) or choice(...)"),
])
def test_invalid_search_space_fails_before_any_trial(tmp_path: Path, cache_dir: Path, param: str, message: str) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, param), tmp_path, cache_dir)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (sweep_dir / "optuna_journal.log").exists() and not (sweep_dir / "0").exists()


def test_a_checkpoint_every_trial_loads_is_checked_before_any_trial(tmp_path: Path, cache_dir: Path) -> None:
    """A mistyped checkpoint path failed every trial, and the fixed rerun was refused as another experiment."""
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, "model.init=pretrained", "model.pretrained_name_or_path=/no/such/kobartt",
                            "training.learning_rate=choice(1e-5, 3e-5)"), tmp_path, cache_dir)
    assert result.returncode == 2 and "'/no/such/kobartt': no such folder" in result.stderr, result.stderr[-2000:]
    assert not (sweep_dir / "optuna_journal.log").exists() and not (sweep_dir / "0").exists()


def test_parallel_workers_need_a_parallel_launcher(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(_sweep(tmp_path / "s", "hydra.sweeper.n_jobs=2"), tmp_path, cache_dir)
    assert result.returncode == 2 and "hydra/launcher=joblib" in result.stderr


@pytest.mark.slow  # moved from the fast run (it measured 10 min 29 s with the venv install): 10 s; test_sweep_workers keeps the reuse rule's units
def test_duplicate_proposals_reuse_the_earlier_result(tmp_path: Path, cache_dir: Path) -> None:
    """A one-point space: TPE can only propose it again; it is trained once."""
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, "hydra.sweeper.n_trials=3", "hydra.sweeper.pruner.name=none",
                            "training.learning_rate=choice(1e-3)", "training.per_device_train_batch_size=choice(8)"),
                     tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _study(sweep_dir).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert [t.user_attrs.get("duplicate_of") for t in trials] == [None, 0, 0]
    assert len({t.values[0] for t in trials}) == 1
    assert sorted(p.name for p in sweep_dir.iterdir() if p.name.isdigit()) == ["0"]


# slow: ~13 s; test_any_app's two-objective sweep keeps multi-objective in the fast run
@pytest.mark.slow
def test_multi_objective_rouge_vs_memory(tmp_path: Path, cache_dir: Path) -> None:
    """User story 4: trade ROUGE against peak memory with NSGA-II (no pruning in this mode)."""
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, "hydra.sweeper.sampler.name=nsga2", "hydra.sweeper.n_trials=2",
                            "hydra.sweeper.direction=[maximize,minimize]",
                            "hydra.sweeper.objectives=[eval/rouge_combined_f1,peak_rss_mb]"), tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "cannot prune" in out
    study = _study(sweep_dir)
    assert len(study.directions) == 2 and study.metric_names == ["eval/rouge_combined_f1", "peak_rss_mb"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE and len(t.values) == 2 for t in study.trials)
    assert all(t.values[1] > 0 and not t.intermediate_values for t in study.trials)
    assert all(" cpu x" in t.user_attrs["device"] for t in study.trials)  # for `dialsum status`
    assert (sweep_dir / "best_params.yaml").is_file()


# ---- slow: real learning curves, worker processes, SIGKILL -------------------------------------------
SHORT_TRIALS = ["experiment=sweep_demo", "~debug", "data.max_train_samples=200", "data.max_val_samples=16",
                "training.max_steps=60", "training.eval_steps=10", "training.save_steps=10",
                "generation.max_new_tokens=16"]


@pytest.mark.slow
@pytest.mark.parametrize("pruner", [[], ["hydra.sweeper.pruner.name=hyperband"]], ids=["default", "hyperband"])
def test_tpe_with_pruning_prunes(tmp_path: Path, cache_dir: Path, pruner: list[str]) -> None:
    """The default pruner (successive halving) and Optuna's Hyperband both stop trials early."""
    sweep_dir = tmp_path / "multirun" / "test"
    args = [a for a in _sweep(sweep_dir, *SHORT_TRIALS, "hydra.sweeper.n_trials=8", "hydra.sweeper.sampler.seed=0",
                              "hydra.sweeper.pruner.max_resource=6", *pruner,
                              "training.learning_rate=tag(log, interval(1e-5, 1e-2))", "artifacts.save_model=true")
            if a != "debug=fast"]
    result = run_cli(args, tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _results(sweep_dir)
    assert len(rows) == 8 and any(r["state"] == "PRUNED" for r in rows), [r["state"] for r in rows]
    for row in rows:
        if row["state"] == "PRUNED":  # recorded with its last value, never FAIL
            assert row["objective"] is not None and row["n_evaluations"] < 6
            assert json.loads((Path(row["job_dir"]) / "metrics.json").read_text())["state"] == "pruned"
        assert (Path(row["job_dir"]) / "model").is_dir() == (row["state"] == "COMPLETE")  # pruned trials keep none


@pytest.mark.slow
def test_two_workers_through_joblib(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = run_cli(_sweep(sweep_dir, *GRID_2X2, "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                            "hydra.launcher.n_jobs=2"), tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _study(sweep_dir).trials
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    assert any(a[1] > b[0] for a, b in zip(spans, spans[1:]))  # trials overlapped in time
    assert "1 torch thread(s)" in "".join((Path(t.user_attrs["job_dir"]) / "train.log").read_text() for t in trials)
    assert {t.user_attrs["torch_threads"] for t in trials} == {max(1, (os.cpu_count() or 1) // 2)}


@pytest.mark.slow
def test_sigkill_mid_trial_then_rerun_loses_nothing(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    args = [a for a in _sweep(sweep_dir, *GRID_2X2, *SHORT_TRIALS) if a != "debug=fast"]
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (sweep_dir / "1" / "train.log").exists() and time.time() < deadline:  # trial 1 is running
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = _study(sweep_dir).trials[1]
    assert killed.state == optuna.trial.TrialState.RUNNING

    result = run_cli(args, tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _study(sweep_dir).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4                                             # n_trials = the study's total
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 4  # nothing duplicated or lost
    assert trials[1].state == optuna.trial.TrialState.FAIL and trials[1].user_attrs["interrupted"]
    requeued = [t for t in complete if t.user_attrs.get("requeued_from") == 1]
    assert requeued and requeued[0].params == killed.params
    assert len({t.user_attrs["job_dir"] for t in trials if "job_dir" in t.user_attrs}) == len(
        [t for t in trials if "job_dir" in t.user_attrs])                # job folders never collide


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=2", "hydra.launcher.n_jobs=2"]])
def test_ctrl_c_mid_training_stops_within_seconds_then_rerun_completes(tmp_path: Path, cache_dir: Path,
                                                                        launcher: list[str]) -> None:
    """Real training (in the sweeper's process, or in loky workers): Ctrl-C stops it, the rerun finishes."""
    sweep_dir = tmp_path / "multirun" / "test"
    args = [a for a in _sweep(sweep_dir, *GRID_2X2, *SHORT_TRIALS, *launcher, "training.max_steps=200")
            if a != "debug=fast"]
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 300
    while not (sweep_dir / "0" / "metrics.csv").exists() and time.time() < deadline:  # trial 0 is training
        time.sleep(0.5)
    time.sleep(2)
    sent = time.time()
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground process group
    out, _ = proc.communicate(timeout=120)
    seconds = time.time() - sent
    print(f"Ctrl-C to exit: {seconds:.1f} s ({'joblib' if launcher else 'in-process'})")
    assert proc.returncode == 130 and seconds < 30, out[-3000:]
    assert (sweep_dir / "all_results.jsonl").is_file() and (sweep_dir / "sweep_summary.json").is_file()
    trials = _study(sweep_dir).trials
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    assert all(t.user_attrs.get("interrupted") for t in trials if t.state == optuna.trial.TrialState.FAIL)

    result = run_cli(args, tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    complete = [t for t in _study(sweep_dir).trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 4 == len(complete)
