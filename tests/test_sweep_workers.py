"""Recovery of trials a dead sweeper left RUNNING (device claims and CPU shares: test_devices.py).

Journal storage here (fast, no server); the same logic on PostgreSQL with Optuna's heartbeat is in
test_multi_sweeper.py."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import psutil

from dialsum.sweep.liveness import HEARTBEAT_ATTR, run_identity
from dialsum.sweep.recovery import StaleCallback, recover
from dialsum.sweep.storage import open_storage

S = optuna.trial.TrialState
LR = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)}


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _running(study: optuna.Study, owner: dict, beat: float | None = None) -> optuna.Trial:
    """A RUNNING trial owned by `owner`, last heartbeat at unix time `beat`."""
    trial = study.ask(LR)
    trial.set_user_attr("sweeper", owner)
    if beat is not None:
        study._storage.set_trial_system_attr(trial._trial_id, HEARTBEAT_ATTR, beat)
    return trial


def test_dead_sweepers_trials_are_failed_and_requeued_live_ones_kept(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="s", storage=open_storage(str(tmp_path / "journal.log")),
                                direction="maximize")
    done = study.ask(LR)
    study.tell(done, 0.5)
    me, now = run_identity(), time.time()
    here_dead = _running(study, {**me, "run_id": "earlier", "pid": _dead_pid()}, beat=now)  # killed, rerun at once
    teammate = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a live sweeper here
    here_alive = _running(study, {**me, "run_id": "teammate", "pid": teammate.pid,
                                  "started": psutil.Process(teammate.pid).create_time()}, beat=now)
    # same hostname and pid, another kernel: a container or another machine; only its heartbeat tells
    elsewhere_fresh = _running(study, {**me, "run_id": "b", "boot_id": "another-machine", "pid": _dead_pid()}, now)
    elsewhere_stale = _running(study, {**me, "run_id": "c", "boot_id": "another-machine"}, beat=now - 120)
    old_record = _running(study, {"host": me["host"], "pid": _dead_pid()}, beat=now)  # no boot_id: heartbeat only

    callback = StaleCallback()
    assert recover(study, me, grace_s=60, callback=callback) == 2
    trials = study.get_trials(deepcopy=False)
    for t in (here_dead, elsewhere_stale):
        assert trials[t.number].state == S.FAIL and trials[t.number].user_attrs["interrupted"] is True
    for t in (here_alive, elsewhere_fresh, old_record):
        assert trials[t.number].state == S.RUNNING
    waiting = study.get_trials(states=(S.WAITING,))
    assert sorted(w.user_attrs["requeued_from"] for w in waiting) == sorted([here_dead.number, elsewhere_stale.number])
    assert {tuple(w.system_attrs["fixed_params"].items()) for w in waiting} == {
        tuple(trials[here_dead.number].params.items()), tuple(trials[elsewhere_stale.number].params.items())}
    assert recover(study, me, grace_s=60, callback=callback) == 0  # idempotent
    teammate.kill()


def test_a_point_being_trained_is_waited_for_never_trained_twice(tmp_path: Path) -> None:
    """Two proposals equal to a running trial both wait for it (not for each other), then reuse its result."""
    from dialsum.sweep.duplicates import WAITING_ATTR, decide, mark

    study = optuna.create_study(study_name="s", storage=open_storage(str(tmp_path / "journal.log")))
    point = {"bs": optuna.distributions.CategoricalDistribution([4, 8])}
    trials = []
    for _ in range(3):
        study.enqueue_trial({"bs": 8})
        trial = study.ask(point)
        trial.set_user_attr("fingerprint", "fp")
        decision = decide(study, trial, "fp", forced=False)
        mark(study, trial, decision)
        trials.append((trial, decision))
    (first, d0), (second, d1), (third, d2) = trials
    assert d0.action == "train"
    assert (d1.action, d1.source.number) == ("wait", first.number)
    assert (d2.action, d2.source.number) == ("wait", first.number)   # never waits for a waiter
    assert study.get_trials()[second.number].user_attrs[WAITING_ATTR] == first.number
    study.tell(first, 0.7)
    again = decide(study, second, "fp", forced=False)
    assert again.action == "reuse" and again.source.number == first.number and again.source.values == [0.7]
    other = decide(study, third, "another experiment", forced=False)  # another fingerprint: not the same point
    assert other.action == "train"


def test_sqlite_shared_by_several_processes_warns(tmp_path: Path, caplog) -> None:
    from dialsum.sweep.rdb import warn_if_shared_sqlite

    storage = open_storage(f"sqlite:///{tmp_path / 'x.db'}")
    assert not warn_if_shared_sqlite(storage, n_jobs=1, other_sweepers=0)
    assert warn_if_shared_sqlite(storage, n_jobs=1, other_sweepers=2)
    assert "journal file" in caplog.text and "PostgreSQL" in caplog.text
    assert not warn_if_shared_sqlite(open_storage(str(tmp_path / "j.log")), n_jobs=4, other_sweepers=2)


def test_rdb_trial_that_never_beat_is_recovered_after_the_grace_period(tmp_path: Path) -> None:
    """Optuna's stale check only sees trials with a heartbeat row: a sweeper killed between its ask and its
    first beat (or an older dialsum's trial) would stay RUNNING for ever."""
    from dialsum.sweep.liveness import beat
    from dialsum.sweep.rdb import HeartbeatSettings

    callback = StaleCallback()
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", HeartbeatSettings(1, 2, callback))
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    me = run_identity()
    never_beat = study.ask(LR)                                           # killed before its first beat
    old_dialsum = _running(study, {"host": me["host"], "pid": _dead_pid()})  # old owner format, no beat
    beating = _running(study, {**me, "run_id": "other", "boot_id": "another-machine"})
    beat(storage, beating._trial_id)
    assert recover(study, me, grace_s=2, callback=callback) == 0          # too young to tell
    time.sleep(2.2)
    beat(storage, beating._trial_id)                                     # its sweeper is alive
    assert recover(study, me, grace_s=2, callback=callback) == 2
    trials = study.get_trials(deepcopy=False)
    assert trials[never_beat.number].state == S.FAIL and trials[old_dialsum.number].state == S.FAIL
    assert trials[beating.number].state == S.RUNNING
    assert len(study.get_trials(states=(S.WAITING,))) == 2


def test_a_worker_waiting_on_a_full_budget_wakes_when_a_trial_is_told_not_at_the_next_poll(tmp_path: Path) -> None:
    """The end of every sweep: one worker waits while the other trains the last trial."""
    from dialsum.sweep import budget
    from dialsum.sweep.coordination import Coordinator

    coord = Coordinator({"heartbeat_interval": 10, "grace_period": 60}, str(tmp_path / "journal.log"),
                        run_identity())
    study = optuna.create_study(study_name="s", storage=coord.storage)
    coord.attach(study, n_jobs=2)
    coord.poll_s = 3600.0  # only the wake-up can end the wait below
    last = _running(study, coord.me)  # this sweeper's own trial, training elsewhere
    limits = budget.Limits(n_trials=1)
    try:
        state = coord.ask(study, LR, limits, {"fingerprint": "f"}, skip_duplicates=False, forced=False)
        assert isinstance(state, budget.BudgetState), state
        assert state.running == (last.number,)
        waiter = threading.Thread(target=coord.wait, args=(state,), daemon=True)
        waiter.start()
        study.tell(last, 0.5)
        coord.release(last)
        waiter.join(timeout=60)
        assert not waiter.is_alive()
        assert coord.ask(study, LR, limits, {"fingerprint": "f"}, skip_duplicates=False, forced=False) == "done"
    finally:
        coord.close()
