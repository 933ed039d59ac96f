"""dialsum dashboard: the real optuna-dashboard serves a sweep's journal study (trials + intermediate values)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import optuna
import pytest

from conftest import ctrl_c_as_in_a_terminal
from dialsum.analysis.dashboard import start, stop
from dialsum.errors import DialsumError
from dialsum.sweep.storage import JOURNAL_FILENAME, open_storage

os.environ["HF_HUB_OFFLINE"] = "1"
optuna.logging.set_verbosity(optuna.logging.WARNING)
STUDY = "dash_study"
N_TRIALS = 4
N_STEPS = 3
PRUNED = {1, 3}
TIMEOUT_S = 10


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, **headers: str) -> Any:
    """GET with headers (bundle.js needs Accept-Encoding, like a browser sends)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost: no proxy
    return opener.open(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def get_json(url: str) -> dict:
    """GET a JSON API endpoint."""
    with get(url) as response:
        return json.loads(response.read())


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A running-sweep-like folder: only the journal, complete and pruned trials with intermediate values."""
    folder = tmp_path / STUDY
    study = optuna.create_study(study_name=STUDY, storage=open_storage(str(folder / JOURNAL_FILENAME)),
                                direction="maximize")
    for number in range(N_TRIALS):
        trial = study.ask({"training.learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)})
        steps = 1 if number in PRUNED else N_STEPS
        for step in range(steps):
            trial.report(0.1 * (step + 1) + 0.01 * number, step)
        trial.set_user_attr("worker", number % 2)
        if number in PRUNED:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, 0.1 * N_STEPS + 0.01 * number)
    return folder


def test_dashboard_serves_trials_and_intermediate_values(sweep: Path) -> None:
    port = free_port()
    proc, url = start(sweep, port=port)
    try:
        assert url == f"http://127.0.0.1:{port}/dashboard"
        base = f"http://127.0.0.1:{port}"
        studies = get_json(f"{base}/api/studies")["study_summaries"]
        study_id = next(s["study_id"] for s in studies if s["study_name"] == STUDY)
        detail = get_json(f"{base}/api/studies/{study_id}")
        trials = {t["number"]: t for t in detail["trials"]}
        assert len(trials) == N_TRIALS
        assert {n for n, t in trials.items() if t["state"] == "Pruned"} == PRUNED
        assert len(trials[0]["intermediate_values"]) == N_STEPS
        assert len(trials[1]["intermediate_values"]) == 1
        assert detail["has_intermediate_values"] is True
        assert detail["best_trials"][0]["number"] == 2
        with get(url) as page:
            assert page.status == 200
        with get(f"{base}/static/bundle.js", **{"Accept-Encoding": "gzip"}) as bundle:  # 500 without the header
            assert bundle.status == 200
    finally:
        stop(proc)
    assert proc.poll() is not None


def test_port_in_use_is_a_user_error(sweep: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(DialsumError, match="--port"):
            start(sweep, port=busy.getsockname()[1])


def test_not_a_sweep_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DialsumError, match="not a sweep folder"):
        start(tmp_path, port=free_port())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_the_dashboard_on_ctrl_c_or_kill(sweep: Path, sig: int) -> None:
    port = free_port()
    code = f"from dialsum.analysis.dashboard import serve; serve({str(sweep)!r}, port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/dashboard" in line, proc.stderr.read() if proc.poll() is not None else line
        with get(f"http://127.0.0.1:{port}/api/meta") as response:
            assert response.status == 200
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=TIMEOUT_S)
        assert "dashboard stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(ConnectionRefusedError):  # the dashboard child is gone too
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S).close()


# The headless-Chromium render of this page is in test_browser.py (make test-browser).
