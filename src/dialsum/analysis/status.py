"""`dialsum status <sweep folder | storage URL> [--watch N]`: the terminal view of a sweep, over SSH.

Counts by state, the best so far, each running trial's latest evaluation and device, throughput, ETA and
failures, in plain text no wider than 100 columns. Works on running, finished, resumed and several-sweeper
studies: every number comes from the storage (the job folders are not needed). `--watch` redraws in place.
"""
from __future__ import annotations

import datetime as dt
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import optuna
from omegaconf import OmegaConf

from dialsum.analysis.study_io import SweepStudy, job_dir, job_hydra_file, load_sweep, objective_names
from dialsum.errors import DialsumError
from dialsum.sweep.liveness import GRACE_ATTR, HEARTBEAT_ATTR, silent_rdb_trial_ids
from dialsum.sweep.progress import N_TRIALS_ATTR, format_duration, format_values
from dialsum.sweep.retries import INTERRUPTED_LABEL, interrupted_numbers, requeued_numbers

TrialState = optuna.trial.TrialState
FrozenTrial = optuna.trial.FrozenTrial
WIDTH = 100                 # fits a default SSH terminal with room to spare
MAX_FAILURES = 5            # the latest failures shown; older ones are counted
MAX_PARETO = 3              # Pareto-front trials listed for a multi-objective study
HOME_AND_CLEAR = "\x1b[H"   # cursor home; each line then clears its own rest, and the screen below is cleared
CLEAR_LINE = "\x1b[K"
CLEAR_BELOW = "\x1b[J"
SILENT_AFTER_S = 60         # grace_period (conf/hydra/sweeper/optuna.yaml) of studies that did not record theirs
DEVICE_ATTR = "device"      # trial user attr written by dialsum.sweep.bridge (which imports transformers: not here)


@dataclass
class RunningTrial:
    """A RUNNING trial: its latest reported evaluation and where it runs."""

    number: int
    step: int | None
    value: float | None
    device: str
    elapsed_s: float | None
    orphaned: bool = False                  # its sweeper is gone: re-queued when the sweep command is rerun


@dataclass
class StatusFacts:
    """What the status screen shows, gathered from the storage once per refresh."""

    study_name: str
    storage: str
    names: list[str]
    directions: list[str]
    counts: dict[str, int]
    best: list[FrozenTrial]
    running: list[RunningTrial]
    failures: list[tuple[int, str, bool]]   # (number, message, re-queued)
    n_failures: int
    sweepers: list[str]                     # sweeper processes (host pid) with running trials
    done: int                               # finished trials that count toward n_trials
    n_trials: int | None
    per_hour: float | None
    finished: bool
    stopped: str | None = None              # why nothing runs although trials are left (Ctrl-C, a dead sweeper)
    notes: list[str] = field(default_factory=list)

    @property
    def eta_s(self) -> float | None:
        """Trials still to run at the observed throughput."""
        if self.n_trials is None or self.per_hour is None:
            return None
        return max(0, self.n_trials - self.done) / self.per_hour * 3600 if self.per_hour > 0 else None


def gather(sweep: SweepStudy, n_trials: int | None = None, now: dt.datetime | None = None) -> StatusFacts:
    """Facts for one refresh (now: the storage's clock, local time like Optuna's timestamps)."""
    now = now or dt.datetime.now()
    trials = sweep.trials()
    counts = {name: 0 for name in ("RUNNING", "COMPLETE", "PRUNED", "FAIL", "REQUEUED", "WAITING")}
    requeued = requeued_numbers(trials)
    interrupted = interrupted_numbers(trials)  # Ctrl-C, a dead worker: no failure of the trial's own
    for t in trials:
        state = "REQUEUED" if t.number in interrupted else t.state.name
        counts[state] = counts.get(state, 0) + 1
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    directions = [d.name.lower() for d in sweep.study.directions]
    failed = [t for t in trials if t.state == TrialState.FAIL]  # the re-queued ones too, marked: why they stopped
    grace = float(sweep.study.user_attrs.get(GRACE_ATTR, SILENT_AFTER_S))
    silent = silent_rdb_trial_ids(sweep.study._storage, sweep.study._study_id, grace) if counts["RUNNING"] else set()
    gone = orphaned_numbers(trials, now, grace) | {t.number for t in trials if t._trial_id in silent}
    facts = StatusFacts(
        study_name=sweep.study.study_name, storage=sweep.storage_url, names=objective_names(sweep),
        directions=directions, counts=counts, best=_best(sweep, complete, directions),
        running=[_running(t, now, t.number in gone) for t in trials if t.state == TrialState.RUNNING],
        failures=[(t.number, str(t.user_attrs.get("error") or "no message recorded"), t.number in requeued)
                  for t in failed[-MAX_FAILURES:]], n_failures=len(failed),
        sweepers=sorted({_sweeper_key(t) for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("sweeper")}),
        done=sum(1 for t in trials if t.state.is_finished() and t.number not in requeued),
        n_trials=n_trials if n_trials is not None else planned_trials(sweep),
        per_hour=throughput_per_hour([t for t in trials if t.number not in gone], now), finished=False)
    live = counts["RUNNING"] - len(gone)
    planned_done = facts.n_trials is not None and facts.done >= facts.n_trials
    stop_reason = (sweep.summary or {}).get("stopped")
    if live == 0 and gone:
        facts.stopped = "its sweeper is gone (killed?); rerun the sweep command: it re-queues the orphaned trials"
    elif live == 0 and stop_reason and not planned_done:
        facts.stopped = str(stop_reason)
    facts.finished = (live == 0 and counts["WAITING"] == 0 and facts.stopped is None
                      and (sweep.summary is not None or planned_done))
    return facts


def orphaned_numbers(trials: list[FrozenTrial], now: dt.datetime, silent_after_s: float = 60.0) -> set[int]:
    """RUNNING trials whose sweeper process is gone from this machine, or (journal storages; an RDB keeps its
    beats in Optuna's own table: silent_rdb_trial_ids) silent for longer than the sweep's grace_period: nothing
    will finish them until the sweep command is rerun."""
    from dialsum.sweep.liveness import last_beat, owner_is_gone_here, run_identity

    me = run_identity()
    gone = set()
    for trial in trials:
        if trial.state != TrialState.RUNNING:
            continue
        owner = trial.user_attrs.get("sweeper")
        beat = last_beat(trial) if HEARTBEAT_ATTR in trial.system_attrs else None
        if (isinstance(owner, dict) and owner_is_gone_here(owner, me)) or (
                beat is not None and now.timestamp() - beat > silent_after_s):
            gone.add(trial.number)
    return gone


def _best(sweep: SweepStudy, complete: list[FrozenTrial], directions: list[str]) -> list[FrozenTrial]:
    """The best trial, or the Pareto front (several objectives)."""
    if not complete:
        return []
    if len(directions) > 1:
        return sorted(sweep.study.best_trials, key=lambda t: t.number)
    return [sweep.study.best_trial]


def _running(trial: FrozenTrial, now: dt.datetime, orphaned: bool = False) -> RunningTrial:
    """Latest evaluation (step = evaluations done) and the device the job recorded."""
    step = max(trial.intermediate_values) if trial.intermediate_values else None
    worker = trial.user_attrs.get("worker")
    device = trial.user_attrs.get(DEVICE_ATTR) or (f"worker {worker}" if worker is not None else "?")
    elapsed = (now - trial.datetime_start).total_seconds() if trial.datetime_start else None
    return RunningTrial(trial.number, step, trial.intermediate_values.get(step) if step is not None else None,
                        str(device), elapsed, orphaned)


def _sweeper_key(trial: FrozenTrial) -> str:
    """One sweeper process: host and pid."""
    who = trial.user_attrs.get("sweeper") or {}
    return f"{who.get('host')} pid {who.get('pid')}" if isinstance(who, dict) else str(who)


def planned_trials(sweep: SweepStudy) -> int | None:
    """n_trials of the latest sweep command: recorded in the study, else in the newest job's hydra.yaml."""
    recorded = sweep.study.user_attrs.get(N_TRIALS_ATTR)
    if recorded is not None:
        return int(recorded)
    for trial in sorted(sweep.trials(), key=lambda t: t.number, reverse=True):
        hydra_cfg = job_hydra_file(job_dir(trial, sweep.sweep_dir), "hydra.yaml")
        value = OmegaConf.select(hydra_cfg, "hydra.sweeper.n_trials") if hydra_cfg is not None else None
        if value is not None:
            return int(value)
    return None


def throughput_per_hour(trials: list[FrozenTrial], now: dt.datetime) -> float | None:
    """Finished trials per hour of time when at least one trial ran (idle gaps between resumed runs and
    parallel workers are both accounted for: the union of the trials' running intervals)."""
    intervals = sorted((t.datetime_start, t.datetime_complete or now) for t in trials
                       if t.datetime_start is not None and t.state != TrialState.WAITING)
    rerun = requeued_numbers(trials)  # stopped by Ctrl-C or a dead worker: its params ran again, not a result
    finished = sum(1 for t in trials if t.state.is_finished() and t.datetime_complete is not None
                   and t.number not in rerun)
    busy, end = 0.0, None
    for start, stop in intervals:
        if end is None or start > end:
            busy += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            busy += (stop - end).total_seconds()
            end = stop
    if not finished or busy <= 0:
        return None
    return finished / busy * 3600


# ---- rendering ------------------------------------------------------------------------------------------
def render(facts: StatusFacts) -> str:
    """Plain text, every line at most WIDTH columns."""
    c = facts.counts
    planned = f"{facts.done}/{facts.n_trials}" if facts.n_trials is not None else f"{facts.done}/?"
    state = "finished" if facts.finished else "stopped" if facts.stopped else "in progress"
    interrupted = f", {c['REQUEUED']} {INTERRUPTED_LABEL}" if c["REQUEUED"] else ""
    lines = [f"study   {facts.study_name} ({state})",
             f"storage {facts.storage}",
             f"trials  {planned} done: {c['COMPLETE']} complete, {c['PRUNED']} pruned, {c['FAIL']} failed"
             f"{interrupted} | "
             f"{c['RUNNING']} running, {c['WAITING']} queued"]
    lines += _best_lines(facts)
    speed = f"{facts.per_hour:.1f} trials/hour" if facts.per_hour is not None else "n/a (nothing finished yet)"
    if facts.n_trials is None:
        eta = "ETA n/a (n_trials unknown: pass --n-trials N)"
    elif facts.done >= facts.n_trials:
        eta = "all planned trials done"
    elif facts.stopped:
        eta = f"stopped with {facts.n_trials - facts.done} to go (below)"
    else:
        eta = f"ETA {format_duration(facts.eta_s)} ({facts.n_trials - facts.done} to go)"
    lines.append(f"speed   {speed} | {eta}")
    if facts.stopped:  # the next step the user takes: wrapped, never cut
        lines += textwrap.wrap(f"reason  {facts.stopped}", WIDTH, subsequent_indent="        ")
    if facts.running:
        lines.append(f"running ({len(facts.sweepers)} sweeper(s): {', '.join(facts.sweepers)})" if facts.sweepers
                     else "running")
        for r in facts.running:
            value = f"step {r.step} {format_values([r.value])}" if r.step is not None else "no evaluation yet"
            where = "sweeper gone: re-queued when the sweep is rerun" if r.orphaned else r.device
            lines.append(f"  #{r.number:<4} {value:<20} {format_duration(r.elapsed_s):>6}  {where}")
    if facts.failures:
        more = facts.n_failures - len(facts.failures)
        lines.append("failures" + (f" (latest {len(facts.failures)} of {facts.n_failures})" if more else ""))
        for number, message, requeued in facts.failures:
            lines.append(f"  #{number:<4} {'(re-queued) ' if requeued else ''}{' '.join(message.split())}")
    return "\n".join(_fit(line) for line in lines + facts.notes)


def _best_lines(facts: StatusFacts) -> list[str]:
    """The best trial with its params (wrapped), or the Pareto front."""
    if not facts.best:
        return ["best    none yet (no trial completed)"]
    if len(facts.directions) > 1:
        out = [f"pareto  {len(facts.best)} trial(s) on {', '.join(f'{n} ({d})' for n, d in zip(facts.names, facts.directions))}"]
        out += [f"  #{t.number:<4} {format_values(t.values)}  {_params(t)}" for t in facts.best[:MAX_PARETO]]
        return out
    t = facts.best[0]
    head = f"best    #{t.number} {facts.names[0]} = {format_values(t.values)} ({facts.directions[0]})"
    return [head] + textwrap.wrap(_params(t), WIDTH, initial_indent="  ", subsequent_indent="  ")


def _params(trial: FrozenTrial) -> str:
    """k=v pairs, short float formatting."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())


def _fit(line: str) -> str:
    """Cut a line to WIDTH columns, marking the cut."""
    return line if len(line) <= WIDTH else line[:WIDTH - 3] + "..."


# ---- entry points ---------------------------------------------------------------------------------------
def status_text(target: Path | str, study_name: str | None = None, n_trials: int | None = None) -> str:
    """The status screen of a sweep folder or storage URL."""
    return render(gather(load_sweep(target, study_name), n_trials))


def watch(target: Path | str, every_s: float, study_name: str | None = None, n_trials: int | None = None,
          out: IO[str] = sys.stdout, refreshes: int | None = None) -> None:
    """Redraw every every_s seconds until Ctrl-C (which ends it normally). A refresh that fails after the
    first one (a storage hiccup) shows the error and keeps trying."""
    if every_s <= 0:
        raise DialsumError(f"--watch {every_s}: give the refresh interval in seconds, e.g. --watch 30.")
    text = status_text(target, study_name, n_trials)  # the first failure is the user's: raised
    count = 0
    try:
        while True:
            stamp = time.strftime("%H:%M:%S")
            body = f"{text}\n\n{stamp}, refreshing every {every_s:g} s (Ctrl-C to quit)"
            out.write(HOME_AND_CLEAR + "".join(f"{line}{CLEAR_LINE}\n" for line in body.split("\n")) + CLEAR_BELOW)
            out.flush()
            count += 1
            if refreshes is not None and count >= refreshes:
                return
            time.sleep(every_s)
            try:
                text = status_text(target, study_name, n_trials)
            except Exception as err:  # noqa: BLE001 - keep watching through a storage hiccup
                text = _fit(f"could not refresh: {type(err).__name__}: {err}")
    except KeyboardInterrupt:
        out.write("\n")
        return

