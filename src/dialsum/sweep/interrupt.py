"""Stopping a sweep: Ctrl-C / SIGTERM stop launching and stop the running trials; a second Ctrl-C exits.

Python delivers signals to the main thread only, and Hydra's launcher call blocks a worker thread until
its job returns, so the handler (written here: no library does this for an ask/tell loop) sets a
process-wide event and terminates the sweeper's child processes (loky or submitit workers). Jobs running
in the sweeper's own process (Hydra's basic launcher) see the event between training steps
(`raise_if_stopping`, called by dialsum's StopOnSweepInterrupt callback) and end with SweepInterrupted.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Callable

log = logging.getLogger(__name__)

STOP = threading.Event()  # set once the sweep is stopping; jobs in this process poll it
_STOP_ERROR: list[Exception] = []  # inside a submitit job: why it is stopping (preempted, time limit)
TERMINATE_GRACE_S = 3.0   # children get SIGTERM, then SIGKILL after this long


class SweepInterrupted(Exception):
    """A job stopped because its sweep is stopping (an Exception, so Hydra records it as the job's error)."""


def raise_if_stopping() -> None:
    """Called between training steps of an in-process job."""
    if STOP.is_set():
        raise _STOP_ERROR[0] if _STOP_ERROR else SweepInterrupted("the sweep was stopped (Ctrl-C / SIGTERM)")


def stop_job(error: Exception) -> None:
    """Inside a job: stop at the next training step, ending with `error` (dialsum.sweep.submitit_jobs)."""
    _STOP_ERROR[:] = [error]
    STOP.set()


class SignalStop:
    """Context manager: SIGINT/SIGTERM -> stop (first), immediate exit (second); restores handlers after."""

    def __init__(self, on_stop: Callable[[], None] | None = None) -> None:
        self.on_stop = on_stop
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "SignalStop":
        STOP.clear()
        _STOP_ERROR.clear()
        if threading.current_thread() is threading.main_thread():  # signal.signal works only there
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    @property
    def exit_code(self) -> int:
        """128 + signal number, the shell's convention (130 for Ctrl-C, 143 for SIGTERM); 0 if none came."""
        return 128 + self.signum if self.signum else 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second signal: the user wants out now
            os.write(2, b"\ndialsum: second interrupt, exiting now (running trials are re-queued on rerun)\n")
            terminate_children(grace_s=0)
            os._exit(128 + signum)
        self.signum = signum
        STOP.set()
        name = signal.Signals(signum).name
        log.warning("%s received: stopping the sweep (no new trials, running trials are stopped and re-queued); "
                    "press Ctrl-C again to exit at once", name)
        if self.on_stop is not None:
            threading.Thread(target=self.on_stop, name="dialsum-stop", daemon=True).start()


def terminate_children(grace_s: float = TERMINATE_GRACE_S) -> int:
    """SIGTERM every child process of the sweeper (worker pools included), SIGKILL what is left."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    return len(children)
