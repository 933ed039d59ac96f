"""dialsum status (issue 9 item 2) and the sweeper's per-trial progress line (item 5): a composed study with every
state and two sweepers, then the real CLI on a finished fake_app sweep, its storage URL, and --watch + Ctrl-C."""
from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from conftest import ROOT, ctrl_c_as_in_a_terminal, run_cli
from dialsum.analysis import status
from dialsum.analysis.study_io import load_sweep
from dialsum.cli import main
from dialsum.sweep.progress import format_duration
from dialsum.sweep.storage import JOURNAL_FILENAME, open_storage
from fake_sweep import build_fake_sweep

optuna.logging.set_verbosity(optuna.logging.WARNING)
S = optuna.trial.TrialState
T0 = dt.datetime(2026, 11, 20, 22, 0, 0)
NOW = T0 + dt.timedelta(hours=2)
LR = optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)
BS = optuna.distributions.CategoricalDistribution([8, 16, 32])
A = {"host": "node1", "pid": 100}
B = {"host": "node2", "pid": 200}


def _add(study: optuna.Study, number: int, state, start_min: float, minutes: float | None, sweeper: dict,
         value: float | None = None, steps: dict[int, float] | None = None, **attrs) -> None:
    """One trial with explicit times (minutes after T0)."""
    start = T0 + dt.timedelta(minutes=start_min)
    study.add_trial(optuna.trial.FrozenTrial(
        number=number, state=state, value=value, values=None, datetime_start=start,
        datetime_complete=start + dt.timedelta(minutes=minutes) if minutes is not None else None,
        params={"training.learning_rate": 1e-4 * (number + 1), "training.per_device_train_batch_size": 16},
        distributions={"training.learning_rate": LR, "training.per_device_train_batch_size": BS},
        user_attrs={"sweeper": sweeper, **attrs}, system_attrs={}, intermediate_values=steps or {},
        trial_id=number))


@pytest.fixture
def every_state(tmp_path: Path) -> Path:
    """Journal study: 3 complete, 1 pruned, 2 failed (one re-queued -> 1 queued), 2 running on two sweepers."""
    folder = tmp_path / "night"
    study = optuna.create_study(study_name="night", storage=open_storage(str(folder / JOURNAL_FILENAME)),
                                direction="maximize")
    study.set_user_attr("n_trials", 12)
    _add(study, 0, S.COMPLETE, 0, 20, A, 0.41, {0: 0.3, 1: 0.41})
    _add(study, 1, S.COMPLETE, 0, 20, B, 0.455, {0: 0.35, 1: 0.455})
    _add(study, 2, S.PRUNED, 20, 10, A, None, {0: 0.1})
    _add(study, 3, S.FAIL, 20, 5, B, error="OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
                                            "(GPU 0; 39.59 GiB total capacity; 37.1 GiB already allocated)")
    _add(study, 4, S.FAIL, 25, 1, B, error="TerminatedWorkerError: a worker died", infrastructure=True)
    _add(study, 5, S.COMPLETE, 30, 20, A, 0.43, {0: 0.33, 1: 0.43})
    _add(study, 6, S.RUNNING, 100, None, A, steps={0: 0.31, 1: 0.38, 2: 0.402},
         device="node1 GPU 0 (NVIDIA A100-SXM4-40GB)", worker=0)
    _add(study, 7, S.RUNNING, 110, None, B, device="node2 GPU 1 (NVIDIA A100-SXM4-40GB)", worker=1)
    study.enqueue_trial({"training.learning_rate": 5e-4, "training.per_device_train_batch_size": 16},
                        user_attrs={"requeued_from": 4, "requeue_reason": "infrastructure", "attempt": 1})
    return folder


def test_status_shows_every_state_two_sweepers_and_fits_100_columns(every_state: Path) -> None:
    facts = status.gather(load_sweep(every_state), now=NOW)
    text = status.render(facts)
    lines = text.splitlines()
    assert all(len(line) <= status.WIDTH for line in lines), [line for line in lines if len(line) > 100]
    assert lines[0] == "study   night (in progress)"
    # 4 is re-queued: it does not count toward n_trials (its retry will)
    assert "trials  5/12 done: 3 complete, 1 pruned, 1 failed, 1 cut off (re-queued) | 2 running, 1 queued" in lines
    assert "running (2 sweeper(s): node1 pid 100, node2 pid 200)" in lines
    assert "best    #1 objective = 0.4550 (maximize)" in lines
    assert "training.learning_rate=0.0002" in text
    running = [line for line in lines if line.startswith("  #6") or line.startswith("  #7")]
    assert "step 2 0.4020" in running[0] and "node1 GPU 0 (NVIDIA A100" in running[0] and "20m" in running[0]
    assert "no evaluation yet" in running[1] and "node2 GPU 1" in running[1]
    assert any(line.startswith("  #3    OutOfMemoryError: CUDA out of memory") and line.endswith("...") for line in lines)
    assert "  #4    (re-queued) TerminatedWorkerError: a worker died" in lines
    # 5 finished trials (the re-queued #4 is no result: its params run again) in the 50 busy minutes before the
    # gap (0-50 min) plus 20 min (100-120 min) running
    assert facts.per_hour == pytest.approx(5 / (70 / 60))
    assert f"ETA {format_duration(7 / facts.per_hour * 3600)} (7 to go)" in text


def test_throughput_counts_busy_time_only() -> None:
    """Two resumed runs a day apart: the idle day is not part of the rate; parallel trials overlap."""
    def _frozen(start_h: float, hours: float) -> optuna.trial.FrozenTrial:
        t = optuna.trial.create_trial(state=S.COMPLETE, value=1.0)
        t.datetime_start = T0 + dt.timedelta(hours=start_h)
        t.datetime_complete = t.datetime_start + dt.timedelta(hours=hours)
        return t

    trials = [_frozen(0, 1), _frozen(0, 1), _frozen(1, 1), _frozen(24, 1)]  # busy 3 h, 4 finished
    assert status.throughput_per_hour(trials, NOW) == pytest.approx(4 / 3)
    assert status.throughput_per_hour([], NOW) is None


def test_multi_objective_status_lists_the_pareto_front(tmp_path: Path) -> None:
    sweep = build_fake_sweep(tmp_path, multi_objective=True)
    text = status.status_text(sweep, n_trials=10)
    assert "pareto  " in text and "eval/rouge_combined_f1 (maximize), peak_rss_mb (minimize)" in text
    assert "7/10 done" in text and "(finished)" in text


def test_unknown_n_trials_says_how_to_give_it(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    study = optuna.create_study(study_name="bare", storage=open_storage(str(folder / JOURNAL_FILENAME)))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    text = status.status_text(folder)
    assert "2/? done" in text and "pass --n-trials N" in text and "none yet" not in text


def test_watch_redraws_in_place_and_ctrl_c_ends_it(every_state: Path, monkeypatch) -> None:
    out = io.StringIO()
    status.watch(every_state, 0.01, out=out, refreshes=2)
    assert out.getvalue().count(status.HOME_AND_CLEAR) == 2 and "(Ctrl-C to quit)" in out.getvalue()

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(status.time, "sleep", interrupted)
    status.watch(every_state, 5, out=io.StringIO())  # returns normally: Ctrl-C is how a watch ends


# ---- the real CLI ----------------------------------------------------------------------------------------
GRID = ["hydra.sweeper.sampler.name=grid", "hydra.sweeper.pruner.name=none",
        "training.learning_rate=choice(1e-3, 3e-3)", "training.per_device_train_batch_size=choice(4, 8)"]


def _dialsum(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`dialsum ...` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "dialsum", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture(scope="module")
def fake_app_sweep(tmp_path_factory, cache_dir: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """A finished 4-trial fake_app sweep whose jobs connect to their trials (FAKE_REPORT)."""
    cwd = tmp_path_factory.mktemp("status_sweep")
    sweep_dir = cwd / "multirun" / "test"
    result = run_cli(["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=test",
                      *GRID], cwd, cache_dir, script="tests/fake_app.py", timeout=180, env_extra={"FAKE_REPORT": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep_dir, result


def test_sweep_logs_one_progress_line_per_finished_trial(fake_app_sweep) -> None:
    _, result = fake_app_sweep
    lines = [line.split("] ", 1)[1] for line in (result.stdout + result.stderr).splitlines() if "[sweep] trial" in line]
    assert [line.split()[2] for line in lines] == ["1/4", "2/4", "3/4", "4/4"], lines
    assert all(" COMPLETE " in line and "| best " in line and " running | " in line for line in lines)
    assert "ETA " in lines[0] and lines[-1].endswith("| done")


def test_status_cli_on_the_sweep_folder_and_its_storage_url(fake_app_sweep) -> None:
    sweep_dir, _ = fake_app_sweep
    by_folder = _dialsum("status", str(sweep_dir), cwd=sweep_dir.parent)
    by_url = _dialsum("status", str(sweep_dir / JOURNAL_FILENAME), cwd=sweep_dir.parent)
    for result in (by_folder, by_url):
        assert result.returncode == 0, result.stderr[-2000:]
        out = result.stdout
        assert "study   test (finished)" in out
        assert "4/4 done: 4 complete, 0 pruned, 0 failed | 0 running, 0 queued" in out and "\nrunning" not in out
        assert "best    #1 eval/rouge_combined_f1 = 1.0004 (maximize)" in out
        assert "all planned trials done" in out
    study = optuna.load_study(study_name="test", storage=open_storage(str(sweep_dir / JOURNAL_FILENAME)))
    assert all(" cpu x" in t.user_attrs[status.DEVICE_ATTR] for t in study.trials)  # recorded by each job
    from dialsum.sweep.bridge import DEVICE_ATTR

    assert DEVICE_ATTR == status.DEVICE_ATTR


def test_status_watch_ctrl_c_exits_0(fake_app_sweep) -> None:
    sweep_dir, _ = fake_app_sweep
    proc = subprocess.Popen([sys.executable, "-m", "dialsum", "status", str(sweep_dir), "--watch", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + 60
    first = proc.stdout.readline()  # the first screen has been drawn once a line arrives
    assert status.HOME_AND_CLEAR in first and time.monotonic() < deadline
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err[-2000:]


def test_status_errors_are_one_line(tmp_path: Path, capsys) -> None:
    db = tmp_path / "two.db"
    for name in ("alpha", "beta"):
        optuna.create_study(study_name=name, storage=f"sqlite:///{db}")
    missing = tmp_path / "typo.db"
    for target, needle in ((f"sqlite:///{db}", "several studies (alpha, beta)"), (str(tmp_path / "nope"), "does not exist"),
                           (f"sqlite:///{missing}", "no such SQLite file")):
        with pytest.raises(SystemExit) as exit_info:
            main(["status", target])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not missing.exists()  # a read-only command creates no database


def test_status_finds_a_running_sweep_on_a_storage_url_from_its_folder(tmp_path: Path, cache_dir: Path,
                                                                        capsys) -> None:
    """sweep_summary.json only comes at the end; the folder's study.json names the storage from the start."""
    sweep_dir, db = tmp_path / "sweep", tmp_path / "study.db"
    result = run_cli(["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.n_trials=1",
                      f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.study_name=on_url"], tmp_path,
                     cache_dir, script="tests/fake_app.py")
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir / "sweep_summary.json").unlink()  # as while it runs
    main(["status", str(sweep_dir)])
    assert "on_url" in capsys.readouterr().out


def test_progress_line_shows_a_step_and_hour_budget_and_its_eta() -> None:
    """With hydra.sweeper.budget the line says how much is spent; the ETA is the first limit to run out."""
    from types import SimpleNamespace

    from dialsum.sweep.budget import STEPS_ATTR, Limits
    from dialsum.sweep.progress import line

    study = optuna.create_study(direction="maximize")
    for value, steps in ((0.3, 300), (0.5, 300)):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
        trial.set_user_attr(STEPS_ATTR, steps)
        study.tell(trial, value)
    record = SimpleNamespace(state="COMPLETE", values=[0.5], number=1)
    plain = line(study, record, n_trials=100, in_flight=0, finished_this_run=2, elapsed_s=60.0)
    assert "steps" not in plain and "ETA 49m" in plain                     # 98 trials at 30 s each
    text = line(study, record, 100, 0, 2, 60.0, Limits(100, steps=900, hours=10))
    assert "| steps 600/900 | 0.0h/10h |" in text, text
    assert "ETA 49m" not in text and "ETA " in text                        # 300 more steps come well before that
    done = line(study, record, 2, 0, 2, 60.0, Limits(2, steps=900))
    assert done.endswith("| done"), done


def test_a_killed_or_stopped_sweep_is_not_in_progress(tmp_path: Path) -> None:
    """A trial whose sweeper died here is flagged and nothing is counted as running; a Ctrl-C'd sweep says so."""
    import json

    from dialsum.sweep.liveness import run_identity

    dead = subprocess.run([sys.executable, "-c", "from dialsum.sweep.liveness import run_identity; import json; "
                           "print(json.dumps(run_identity()))"], capture_output=True, text=True, timeout=60)
    owner = json.loads(dead.stdout)  # that process has ended: its trial will never finish
    assert owner["boot_id"] == run_identity()["boot_id"]
    folder = tmp_path / "killed"
    study = optuna.create_study(study_name="killed", storage=open_storage(str(folder / JOURNAL_FILENAME)),
                                direction="maximize")
    study.set_user_attr("n_trials", 6)
    _add(study, 0, S.COMPLETE, 0, 20, owner, 0.41, {0: 0.3, 1: 0.41})
    _add(study, 1, S.RUNNING, 20, None, owner, steps={0: 0.2})
    text = status.render(status.gather(load_sweep(folder), now=NOW))
    assert text.splitlines()[0] == "study   killed (stopped)" and "ETA" not in text, text
    assert "stopped with 5 to go (below)" in text and "reason  its sweeper is gone (killed?)" in text
    assert any(line.startswith("  #1") and "sweeper gone: re-queued when the sweep is rerun" in line
               for line in text.splitlines())

    (folder / "sweep_summary.json").write_text(json.dumps({"study_name": "killed", "stopped": "stopped by SIGINT; "
                                                           "rerun the same command to finish"}), encoding="utf-8")
    study.tell(1, state=S.FAIL)
    text = status.render(status.gather(load_sweep(folder), now=NOW))
    assert text.splitlines()[0] == "study   killed (stopped)" and "ETA" not in text, text
    assert "reason  stopped by SIGINT; rerun the same command to finish" in text  # whole, not cut at 100


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_sweeper_gone_on_another_machine_is_seen_through_the_database_heartbeat(postgres_url: str) -> None:
    """PostgreSQL: the sweeper beat for its trial in Optuna's heartbeat table, then its machine went away. Before,
    status read only journal beats, so the trial showed as running with an ETA until somebody reran the sweep."""
    import sqlalchemy

    from dialsum.sweep.liveness import GRACE_ATTR
    from dialsum.sweep.rdb import HeartbeatSettings, open_rdb

    storage = open_rdb(postgres_url, HeartbeatSettings(interval=20, grace=60))
    study = optuna.create_study(study_name="far", storage=storage, direction="maximize")
    study.set_user_attr(GRACE_ATTR, 60)
    study.set_user_attr("n_trials", 4)
    far_away = {"host": "node7", "pid": 4242, "boot_id": "another-kernel", "pid_ns": "x", "run_id": "r"}
    for _ in range(2):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)})
        trial.set_user_attr("sweeper", far_away)
        storage.record_heartbeat(trial._trial_id)
    with storage.engine.begin() as db:  # trial 0's sweeper last beat an hour ago, by the database's clock
        db.execute(sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = heartbeat - interval '1 hour' "
                                   "WHERE trial_id = :id"), {"id": study.trials[0]._trial_id})
    facts = status.gather(load_sweep(postgres_url, "far"))
    assert [(r.number, r.orphaned) for r in facts.running] == [(0, True), (1, False)]
    assert facts.stopped is None  # trial 1's sweeper still beats: the sweep goes on
    assert optuna.load_study(study_name="far", storage=postgres_url).trials[0].state == S.RUNNING  # nothing changed
