"""Sweeps you can trust (issue 8): resume only the same experiment, stop cleanly, retry what was the
machinery's fault. The sweeper is real; the jobs are fake (tests/fake_app.py), so each test takes seconds."""
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
from dialsum.sweep.liveness import run_identity
from dialsum.sweep.storage import open_storage

S = optuna.trial.TrialState
FAKE = "tests/fake_app.py"
GRID = ["hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
        "training.learning_rate=choice(1e-3, 3e-3)", "training.per_device_train_batch_size=choice(4, 8)"]
JOBLIB_2 = ["hydra/launcher=joblib", "hydra.sweeper.n_jobs=2", "hydra.launcher.n_jobs=2"]


def _args(sweep_dir: Path, *extra: str) -> list[str]:
    """A fake-job Optuna sweep in sweep_dir, study 'test'."""
    return ["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=test", *extra]


def _run(sweep_dir: Path, cache_dir: Path, *extra: str, env: dict[str, str] | None = None):
    """Run the fake sweep to the end."""
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    return run_cli(_args(sweep_dir, *extra), sweep_dir.parent, cache_dir, script=FAKE, timeout=180, env_extra=env)


def _study(sweep_dir: Path) -> optuna.Study:
    """The study in the sweep folder's journal."""
    return optuna.load_study(study_name="test", storage=open_storage(str(sweep_dir / "optuna_journal.log")))


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state == S.COMPLETE]


def _points(trials) -> set:
    return {tuple(sorted(t.params.items())) for t in trials}


# ---- resume must resume the same experiment -------------------------------------------------------------
def test_changed_override_refuses_resume_until_new_name_or_force(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    first = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=2", "data.max_train_samples=10")
    assert first.returncode == 0, first.stderr[-3000:]
    changed = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=4", "data.max_train_samples=20")
    assert changed.returncode == 2 and "Traceback" not in changed.stderr, changed.stderr[-3000:]
    for needle in ("data.max_train_samples: 10 -> 20", "hydra.sweeper.study_name=", "hydra.sweeper.resume=force"):
        assert needle in changed.stderr, changed.stderr[-3000:]
    assert (changed.stdout + changed.stderr).count("data.max_train_samples: 10 -> 20") == 1  # printed once
    assert len(_study(sweep_dir).trials) == 2                      # stopped before any trial
    dropped = _run(sweep_dir, cache_dir, *GRID[:2], "training.learning_rate=choice(1e-3, 3e-3)",
                   "hydra.sweeper.n_trials=4", "data.max_train_samples=10")   # a changed search space
    assert dropped.returncode == 2 and "space.training.per_device_train_batch_size" in dropped.stderr
    # refused reruns write nothing into the study: not a forced space Optuna cannot take, not another metric name
    unfit = _run(sweep_dir, cache_dir, *GRID[:3], "training.per_device_train_batch_size=choice(4, 8, 16)",
                 "hydra.sweeper.n_trials=4", "data.max_train_samples=10", "hydra.sweeper.resume=force")
    assert unfit.returncode == 2 and "even with hydra.sweeper.resume=force" in unfit.stderr, unfit.stderr[-3000:]
    other_metric = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=4", "data.max_train_samples=10",
                        "objective.metric=eval/rouge1_f1")
    assert other_metric.returncode == 2, other_metric.stderr[-3000:]
    assert _study(sweep_dir).metric_names == ["eval/rouge_combined_f1"]
    # what cannot change results never blocks: workers, launcher, more trials
    same = _run(sweep_dir, cache_dir, *GRID, *JOBLIB_2, "hydra.sweeper.n_trials=3", "data.max_train_samples=10")
    assert same.returncode == 0, same.stderr[-3000:]
    assert len(_complete(_study(sweep_dir))) == 3

    forced = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=4", "data.max_train_samples=20",
                  "hydra.sweeper.resume=force")
    assert forced.returncode == 0 and "continues under changed settings" in forced.stdout + forced.stderr
    study = _study(sweep_dir)
    assert len(_complete(study)) == 4
    best = yaml.safe_load((sweep_dir / "best_params.yaml").read_text())["best"]
    ran = 10 if best["number"] < 3 else 20   # the retrain command is what the best trial ran
    assert f"data.max_train_samples={ran}" in best["command"], best
    assert "trial." not in best["command"] and "hydra." not in best["command"]
    cfg = yaml.safe_load((sweep_dir / "best_config.yaml").read_text())
    assert cfg["data"]["max_train_samples"] == ran


def test_a_sweep_refused_by_its_sampler_leaves_the_study_open_to_the_fixed_command(tmp_path: Path,
                                                                                      cache_dir: Path) -> None:
    """A grid over a continuous range is refused; the study it created had recorded the refused settings, so the
    corrected command was refused as another experiment ("the study holds 0 trial(s))."""
    sweep_dir = tmp_path / "multirun" / "test"
    grid = ["hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none", "hydra.sweeper.n_trials=2"]
    refused = _run(sweep_dir, cache_dir, *grid, "training.learning_rate=interval(1e-4, 1e-3)")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    fixed = _run(sweep_dir, cache_dir, *grid, "training.learning_rate=choice(1e-4, 1e-3)")
    assert fixed.returncode == 0, fixed.stderr[-3000:]


def test_same_data_under_another_path_resumes_changed_data_does_not(tmp_path: Path, cache_dir: Path) -> None:
    rows = "fname,dialogue,summary\nd1,#Person1#: 안녕.,인사.\n"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for split in ("train", "val"):
            (tmp_path / folder / f"{split}.csv").write_text(rows, encoding="utf-8")
    sweep_dir = tmp_path / "multirun" / "test"

    def data(folder: str) -> list[str]:
        return ["data=dialogsum_ko", f"data.train_path={tmp_path / folder / 'train.csv'}",
                f"data.val_path={tmp_path / folder / 'val.csv'}"]

    assert _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=1", *data("a")).returncode == 0
    moved = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=2", *data("b"))
    assert moved.returncode == 0, moved.stderr[-3000:]
    (tmp_path / "b" / "train.csv").write_text(rows + "d2,#Person1#: 네.,대답.\n", encoding="utf-8")
    edited = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=3", *data("b"))
    assert edited.returncode == 2 and "data: csv sha256:" in edited.stderr, edited.stderr[-3000:]


def test_study_from_before_fingerprints_resumes_with_one_warning(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    sweep_dir.mkdir(parents=True)
    old = optuna.create_study(study_name="test", storage=open_storage(str(sweep_dir / "optuna_journal.log")),
                              direction="maximize")
    dists = {"training.learning_rate": optuna.distributions.CategoricalDistribution([1e-3, 3e-3]),
             "training.per_device_train_batch_size": optuna.distributions.CategoricalDistribution([4, 8])}
    old.add_trial(optuna.trial.create_trial(params={"training.learning_rate": 1e-3,
                                                    "training.per_device_train_batch_size": 4},
                                            distributions=dists, value=0.5))
    result = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=2")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert out.count("created before dialsum recorded study settings") == 1
    assert len(_complete(_study(sweep_dir))) == 2


def test_settings_added_by_an_upgrade_at_their_neutral_value_are_no_difference() -> None:
    """A study recorded before pruner.bootstrap_count / generation.grow_factor / training.train_sampling_strategy
    existed still resumes."""
    from dialsum.sweep.fingerprint import differences

    old = {"pruner.name": "hyperband", "config.generation.batch_size": 64}
    same = {**old, "pruner.bootstrap_count": 0, "config.generation.grow_factor": None,
            "config.training.train_sampling_strategy": "random"}
    assert differences(old, same) == []
    assert differences(old, {**same, "pruner.bootstrap_count": 2}) == ["pruner.bootstrap_count: 0 -> 2"]
    assert differences(old, {**same, "config.new_key": 1}) == ["config.new_key: <absent> -> 1"]


def test_study_under_the_old_default_pruner_says_how_to_resume_it(tmp_path: Path, cache_dir: Path) -> None:
    """The default pruner changed (hyperband -> successive_halving): a study started under the old default is
    refused with the override that resumes it as it was, and that override resumes it."""
    sweep_dir = tmp_path / "multirun" / "test"
    space = [o for o in GRID if not o.startswith("hydra.sweeper.pruner.name")]
    old = ["hydra.sweeper.pruner.name=hyperband"]
    assert _run(sweep_dir, cache_dir, *space, *old, "hydra.sweeper.n_trials=1").returncode == 0
    refused = _run(sweep_dir, cache_dir, *space, "hydra.sweeper.n_trials=2")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    assert "pruner.name: hyperband -> successive_halving" in refused.stderr
    assert "add hydra.sweeper.pruner.name=hyperband to resume it as it was" in refused.stderr
    resumed = _run(sweep_dir, cache_dir, *space, *old, "hydra.sweeper.n_trials=2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(_complete(_study(sweep_dir))) == 2


# ---- stopping a sweep ---------------------------------------------------------------------------------
def _start(sweep_dir: Path, cache_dir: Path, *extra: str, env: dict[str, str]) -> subprocess.Popen:
    """The fake sweep in the background, its own process group (like a terminal job)."""
    full_env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), **env}
    sweep_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, str(ROOT / FAKE), *_args(sweep_dir, *extra)], cwd=sweep_dir.parent,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_for_jobs(log: Path, n: int, timeout: float = 90) -> None:
    """Until n jobs have started (each appends a line to the fake log)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.is_file() and len(log.read_text().splitlines()) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{n} job(s) did not start")


def test_workers_of_a_killed_sweeper_stop_their_trials(tmp_path: Path, cache_dir: Path) -> None:
    """kill -9 of the sweeper (or the OOM killer) left its joblib workers training on as orphans: their results
    were lost to the rerun, which trained the same points again beside them, and they kept their cores."""
    log = tmp_path / "jobs.log"
    proc = _start(tmp_path / "multirun" / "test", cache_dir, *GRID, *JOBLIB_2,
                  env={"FAKE_SLEEP": "60", "FAKE_LOG": str(log)})
    _wait_for_jobs(log, 2)
    workers = {json.loads(line)["pid"] for line in log.read_text().splitlines()}
    assert proc.pid not in workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


@pytest.mark.parametrize("sig,launcher,to_group", [
    (signal.SIGINT, [], True),            # Ctrl-C in a terminal: the whole foreground group gets it
    (signal.SIGTERM, JOBLIB_2, False),    # docker stop: only the main process gets it
])
def test_signal_stops_the_sweep_and_rerun_completes(tmp_path: Path, cache_dir: Path, sig, launcher,
                                                    to_group: bool) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    log = tmp_path / "jobs.log"
    extra = [*GRID, *launcher]
    proc = _start(sweep_dir, cache_dir, *extra, env={"FAKE_SLEEP": "60", "FAKE_LOG": str(log)})
    _wait_for_jobs(log, 2 if launcher else 1)
    time.sleep(0.5)
    sent = time.time()
    os.killpg(proc.pid, sig) if to_group else os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=60)
    seconds = time.time() - sent
    print(f"{signal.Signals(sig).name}: exit {proc.returncode} after {seconds:.1f} s")
    assert proc.returncode == 128 + sig, out[-3000:]
    assert seconds < 15, seconds
    assert "Traceback" not in out, out[-3000:]
    for name in ("all_results.jsonl", "sweep_summary.json", "report.md"):
        assert (sweep_dir / name).is_file(), name
    assert "stopped by" in json.loads((sweep_dir / "sweep_summary.json").read_text())["stopped"]
    study = _study(sweep_dir)
    stopped = [t for t in study.trials if t.state == S.FAIL]
    assert stopped and all(t.user_attrs.get("interrupted") for t in stopped)
    assert all(t.user_attrs["error"].startswith("SweepInterrupted") for t in stopped)  # not a worker "crash"
    assert not [t for t in study.trials if t.state == S.RUNNING]
    assert {t.user_attrs["requeued_from"] for t in study.trials if t.state == S.WAITING} == {t.number for t in stopped}

    rerun = _run(sweep_dir, cache_dir, *extra)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    complete = _complete(_study(sweep_dir))
    assert len(complete) == 4 and len(_points(complete)) == 4       # nothing lost, nothing duplicated
    assert _points(stopped) <= _points(complete)


def test_second_ctrl_c_exits_at_once(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    log = tmp_path / "jobs.log"
    proc = _start(sweep_dir, cache_dir, *GRID, env={"FAKE_SLEEP": "60", "FAKE_LOG": str(log),
                                                    "FAKE_SLOW_STOP": "1"})
    _wait_for_jobs(log, 1)
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.2)
    sent = time.time()
    os.kill(proc.pid, signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.time() - sent < 3
    rerun = _run(sweep_dir, cache_dir, *GRID)  # whatever the first stop left RUNNING is recovered
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert len(_points(_complete(_study(sweep_dir)))) == 4


@pytest.mark.parametrize("fault", ["FAKE_TELL_ERROR", "FAKE_ASK_ERROR"])
def test_worker_thread_exception_is_recorded_and_the_sweep_goes_on(tmp_path: Path, cache_dir: Path,
                                                                    fault: str) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = _run(sweep_dir, cache_dir, *GRID, env={fault: "2"})
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "sweeper error: " in out and "fake " in out
    study = _study(sweep_dir)
    assert not [t for t in study.trials if t.state == S.RUNNING]
    assert len(_points(_complete(study))) == 4                      # the lost trial was re-queued and ran


# ---- settings that were silently ignored ------------------------------------------------------------------
def test_single_objective_from_objectives_is_what_trials_optimise(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.objectives=[eval/loss]",
                  "hydra.sweeper.direction=minimize", env={"FAKE_REPORT": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    study = _study(sweep_dir)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    best = study.best_trial                        # lowest eval/loss = the fake's best point, not its worst
    assert best.params == {"training.learning_rate": 3e-3, "training.per_device_train_batch_size": 8}
    assert best.value == pytest.approx(3.0 - 1.000374)
    assert all(t.intermediate_values == {0: t.value} for t in study.trials)   # the bridge reports eval/loss
    job = yaml.safe_load((Path(best.user_attrs["job_dir"]) / ".hydra" / "config.yaml").read_text())
    assert job["objective"] == {"metric": "eval/loss", "direction": "minimize"}


def test_direction_as_one_item_list_keeps_pruning(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=2", "hydra.sweeper.direction=[maximize]",
                  env={"FAKE_REPORT": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(t.intermediate_values for t in _study(sweep_dir).trials)


def test_single_objective_that_no_job_produces_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    result = _run(tmp_path / "multirun" / "test", cache_dir, *GRID, "hydra.sweeper.objectives=[peak_rss_mb]",
                  "hydra.sweeper.direction=minimize")
    assert result.returncode == 2 and "single objective 'peak_rss_mb'" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("from_env", [False, True])
def test_storage_password_is_never_written(tmp_path: Path, cache_dir: Path, from_env: bool) -> None:
    """Every file the sweep leaves (job .hydra/ files, logs, summary, report, the database) and its output."""
    secret = "s3cr3t-pw"
    url = f"postgresql://dialsum:{secret}@db.example:5432/optuna"
    sweep_dir = tmp_path / "multirun" / "test"
    storage = "hydra.sweeper.storage=${oc.env:DIALSUM_STORAGE}" if from_env else f"hydra.sweeper.storage={url}"
    env = {"FAKE_PASSWORD_DB": str(sweep_dir / "stand_in_for_postgres.db"), "FAKE_REPORT": "1",
           **({"DIALSUM_STORAGE": url} if from_env else {})}
    result = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=2", storage, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert secret not in result.stdout + result.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10 and (sweep_dir / "0" / ".hydra" / "hydra.yaml") in files
    leaked = [str(p) for p in files if secret.encode() in p.read_bytes()]
    assert not leaked, leaked
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert summary["storage"] == "postgresql://dialsum:***@db.example:5432/optuna"
    assert '"$DIALSUM_STORAGE"' in summary["dashboard"]
    assert all(t.intermediate_values for t in _complete(optuna.load_study(
        study_name="test", storage=f"sqlite:///{sweep_dir / 'stand_in_for_postgres.db'}")))  # jobs connected


# ---- failures: retry the machinery's, keep the trial's --------------------------------------------------
def test_killed_worker_process_is_requeued_and_the_sweep_completes(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    result = _run(sweep_dir, cache_dir, *GRID, *JOBLIB_2, env={"FAKE_KILL_ONCE": str(tmp_path / "killed"),
                                                                "FAKE_SLEEP": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    study = _study(sweep_dir)
    lost = [t for t in study.trials if t.state == S.FAIL]
    assert lost and all(t.user_attrs.get("infrastructure") for t in lost), [t.user_attrs for t in lost]
    assert "TerminatedWorkerError" in lost[0].user_attrs["error"]
    assert len(_points(_complete(study))) == 4


def test_retries_are_bounded_by_max_retries(tmp_path: Path, cache_dir: Path) -> None:
    """A point whose worker dies every time is retried max_retries (1) times, then stays FAIL."""
    sweep_dir = tmp_path / "multirun" / "test"
    result = _run(sweep_dir, cache_dir, *GRID, *JOBLIB_2, env={"FAKE_KILL_LR": "0.001"})
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _study(sweep_dir).trials
    killed = [t for t in trials if t.params["training.learning_rate"] == 1e-3]
    assert all(t.state == S.FAIL for t in killed)
    assert sorted(t.user_attrs.get("attempt", 0) for t in killed) == [0, 0, 1, 1]   # 2 points x (try + 1 retry)
    assert not [t for t in trials if t.state in (S.WAITING, S.RUNNING)]
    assert len(_complete(_study(sweep_dir))) >= 2


def test_trial_errors_stay_failed_and_retry_failed_requeues_them(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    first = _run(sweep_dir, cache_dir, *GRID, env={"FAKE_FAIL_LR": "0.001"})
    assert first.returncode == 0, first.stderr[-3000:]
    failed = [t for t in _study(sweep_dir).trials if t.state == S.FAIL]
    assert len(failed) == 2 and all("fake training error" in t.user_attrs["error"] for t in failed)
    assert not [t for t in _study(sweep_dir).trials if t.state == S.WAITING]   # the trial's fault: no retry
    again = _run(sweep_dir, cache_dir, *GRID)
    assert "0 trial(s) to run" in again.stdout + again.stderr
    fixed = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.retry_failed=true")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    complete = _complete(_study(sweep_dir))
    assert len(complete) == 4 and _points(failed) <= _points(complete)
    assert {t.user_attrs.get("requeued_from") for t in complete} >= {t.number for t in failed}


def test_resumed_seeded_sampler_does_not_repeat_its_proposals(tmp_path: Path, cache_dir: Path) -> None:
    sweep_dir = tmp_path / "multirun" / "test"
    space = ["hydra.sweeper.sampler.name=random", "hydra.sweeper.sampler.seed=0", "hydra.sweeper.pruner.name=none",
             "training.learning_rate=tag(log, interval(1e-4, 1e-2))"]
    assert _run(sweep_dir, cache_dir, *space, "hydra.sweeper.n_trials=2").returncode == 0
    assert _run(sweep_dir, cache_dir, *space, "hydra.sweeper.n_trials=4").returncode == 0
    trials = _study(sweep_dir).trials
    assert [t.state for t in trials] == [S.COMPLETE] * 4
    assert not any("duplicate_of" in t.user_attrs for t in trials)
    assert len(_points(trials)) == 4


def test_interrupted_trial_is_recovered_when_the_pid_was_reused(tmp_path: Path, cache_dir: Path) -> None:
    """A container restarts the sweeper with the same hostname and pid: the pid alone is alive, the run is not."""
    sweep_dir = tmp_path / "multirun" / "test"
    assert _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=1").returncode == 0
    study = _study(sweep_dir)
    study.enqueue_trial({"training.learning_rate": 3e-3, "training.per_device_train_batch_size": 8})
    dists = {"training.learning_rate": optuna.distributions.CategoricalDistribution([1e-3, 3e-3]),
             "training.per_device_train_batch_size": optuna.distributions.CategoricalDistribution([4, 8])}
    orphan = study.ask(dists)
    orphan.set_user_attr("sweeper", {**run_identity(), "pid": os.getpid(),  # alive: this pytest, same kernel
                                     "run_id": "an-earlier-run", "started": 1.0})  # ... but not that run
    result = _run(sweep_dir, cache_dir, *GRID, "hydra.sweeper.n_trials=2")
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _study(sweep_dir).trials
    assert trials[orphan.number].state == S.FAIL and trials[orphan.number].user_attrs["interrupted"]
    retried = [t for t in trials if t.user_attrs.get("requeued_from") == orphan.number]
    assert retried and retried[0].state == S.COMPLETE and retried[0].params == orphan.params


def test_a_study_under_the_old_composite_penalty_is_told_how_to_resume() -> None:
    """The composite's repetition penalty moved from 0 to 0.5: the refusal names the override that brings 0 back."""
    from dialsum.sweep.fingerprint import _old_defaults

    key = "config.metric.composite.repetition_penalty"
    assert "add metric.composite.repetition_penalty=0.0" in _old_defaults({key: 0.0}, {key: 0.5})


# ---- job folders belong to one study -----------------------------------------------------------------------
def test_trials_stay_in_the_sweeps_folder_and_a_second_study_is_refused_there(tmp_path: Path,
                                                                                cache_dir: Path) -> None:
    """A study name with ${model.name} (every preset's) and a swept model group sent each trial to the folder of
    its own model, where another study's trials were later written over; two studies in one hydra.sweep.dir
    overwrote each other's job folders."""
    common = ["-m", "hydra/sweeper=optuna", "hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
              "model=choice(kobart, t5)", "training.learning_rate=choice(1e-3)", "training.per_device_train_batch_size=8",
              "hydra.sweep.dir=multirun/${hydra.sweeper.study_name}"]
    first = run_cli([*common, "hydra.sweeper.study_name=s_${model.name}", "hydra.sweeper.n_trials=2"], tmp_path,
                    cache_dir, script=FAKE, timeout=180)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "multirun").iterdir()) == ["s_kobart"]  # the start's model names it
    folders = {json.loads(line)["job_dir"] for line in (tmp_path / "multirun" / "s_kobart" / "all_results.jsonl")
               .read_text(encoding="utf-8").splitlines()}
    assert folders == {str(tmp_path / "multirun" / "s_kobart" / n) for n in "01"}
    before = (tmp_path / "multirun" / "s_kobart" / "0" / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")
    other = run_cli([*common[:7], f"hydra.sweep.dir={tmp_path / 'multirun' / 's_kobart'}",
                     "hydra.sweeper.study_name=other", "hydra.sweeper.n_trials=1"], tmp_path, cache_dir, script=FAKE,
                    timeout=180)
    assert other.returncode == 2 and "Traceback" not in other.stderr, other.stderr[-3000:]
    assert "holds the job folders of study 's_kobart'" in other.stderr and "hydra.sweep.dir=multirun/other" in \
        other.stderr, other.stderr[-3000:]
    assert (tmp_path / "multirun" / "s_kobart" / "0" / ".hydra" / "overrides.yaml").read_text(encoding="utf-8") == before
    from dialsum.sweep.storage import read_marker

    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "study.json").write_text("[]", encoding="utf-8")
    assert read_marker(tmp_path / "odd") == {}  # not an object: no owner, no traceback
