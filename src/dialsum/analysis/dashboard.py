"""`dialsum dashboard <sweep_dir>`: the real optuna-dashboard on a sweep's storage, live while the sweep runs.

The journal file path works directly as optuna-dashboard's storage argument. Bound to 127.0.0.1 by default:
the dashboard can change the study (tell trials, delete the study), so exposing it is an explicit choice.
"""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from dialsum.analysis.study_io import load_sweep
from dialsum.errors import DialsumError
from dialsum.sweep.storage import unmask_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
STARTUP_TIMEOUT_S = 30.0   # optuna-dashboard serves in ~1.6 s; a slow disk or big study may take longer
POLL_INTERVAL_S = 0.2
REQUEST_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 5.0
LOG_TAIL_CHARS = 2000
READY_PATH = "/api/meta"   # cheap JSON endpoint: answers once the app is up
CONSOLE_SCRIPT = "optuna-dashboard"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # handled like Ctrl-C (SIGINT) by serve()
_LOGS: dict[int, Path] = {}  # dashboard pid -> its log file, removed when stop() ends it
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never send 127.0.0.1 to an HTTP proxy


def dashboard_command(storage_url: str, host: str, port: int) -> list[str]:
    """optuna-dashboard from this interpreter's environment (its console script, else its CLI module)."""
    script = Path(sys.executable).parent / CONSOLE_SCRIPT
    if script.is_file():
        prefix = [str(script)]
    elif shutil.which(CONSOLE_SCRIPT):
        prefix = [str(shutil.which(CONSOLE_SCRIPT))]
    else:
        prefix = [sys.executable, "-c", "import sys; from optuna_dashboard._cli import main; sys.exit(main())"]
    return prefix + [storage_url, "--host", host, "--port", str(port)]


def check_port_free(host: str, port: int) -> None:
    """Fail with a clear message instead of a dashboard that dies on 'address already in use'."""
    bind_host = "" if host in WILDCARD_HOSTS else host
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the server: TIME_WAIT is no conflict
        try:
            sock.bind((bind_host, port))
        except OSError as err:
            raise DialsumError(f"cannot listen on {host}:{port} ({err.strerror}): another dashboard may be running "
                               "there; pass --port <another port>.") from None


def local_url(host: str, port: int) -> str:
    """The URL to open (a wildcard bind is reachable on 127.0.0.1)."""
    shown = DEFAULT_HOST if host in WILDCARD_HOSTS else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def start(sweep_dir: Path | str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          timeout_s: float = STARTUP_TIMEOUT_S) -> tuple[subprocess.Popen, str]:
    """Start optuna-dashboard on the sweep's storage; return (process, dashboard URL) once it answers."""
    sweep = load_sweep(sweep_dir)
    check_port_free(host, port)
    log = tempfile.NamedTemporaryFile(prefix=f"dialsum-dashboard-{port}-", suffix=".log", delete=False)
    proc = subprocess.Popen(dashboard_command(unmask_url(sweep.storage_url), host, port),  # password from env
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    _LOGS[proc.pid] = Path(log.name)
    base = local_url(host, port)
    try:
        wait_ready(proc, base + READY_PATH, timeout_s, Path(log.name))
    except BaseException:
        stop(proc)
        raise
    return proc, f"{base}/dashboard"


def wait_ready(proc: subprocess.Popen, url: str, timeout_s: float, log_path: Path) -> None:
    """Poll until the dashboard answers; a dead or silent process becomes a DialsumError with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DialsumError(f"optuna-dashboard exited with code {proc.returncode}:\n{_tail(log_path)}")
        try:
            with _LOCAL.open(url, timeout=REQUEST_TIMEOUT_S) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(POLL_INTERVAL_S)
    raise DialsumError(f"optuna-dashboard did not answer at {url} within {timeout_s:.0f} s:\n{_tail(log_path)}")


def stop(proc: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
    """Ctrl-C the dashboard (SIGINT), then terminate, then kill; returns its exit code."""
    for send in (lambda: proc.send_signal(signal.SIGINT), proc.terminate, proc.kill):
        if proc.poll() is not None:
            break
        send()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            continue
    log = _LOGS.pop(proc.pid, None)
    if log is not None and proc.poll() is not None:
        log.unlink(missing_ok=True)
    return proc.poll()


def serve(sweep_dir: Path | str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Run the dashboard in the foreground until Ctrl-C (forwarded to it) or until it exits."""
    if host in WILDCARD_HOSTS:
        print(f"warning: --host {host or '0.0.0.0'} exposes the dashboard (which can modify the study) to the "
              "network; prefer an SSH tunnel to 127.0.0.1.", file=sys.stderr)
    proc: subprocess.Popen | None = None
    previous = _interrupt_on(STOP_SIGNALS)
    try:
        proc, url = start(sweep_dir, host, port)  # a Ctrl-C while it starts stops it too (start cleans up)
        print(f"optuna-dashboard for {sweep_dir}: {url}  (Ctrl-C to stop)", flush=True)
        code = proc.wait()
    except KeyboardInterrupt:
        if proc is not None:
            stop(proc)
        print("dashboard stopped", flush=True)
        return
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log = _LOGS.pop(proc.pid, None)
    if code != 0:
        raise DialsumError(f"optuna-dashboard exited with code {code}:\n{_tail(log) if log else ''}")
    if log is not None:
        log.unlink(missing_ok=True)


def _interrupt_on(signals: tuple[int, ...]) -> dict[int, Any]:
    """Treat kill/terminal hang-up like Ctrl-C, so the dashboard child is never left orphaned; old handlers."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in signals:
        previous[sig] = signal.signal(sig, interrupt)
    return previous


def _tail(path: Path) -> str:
    """The end of the dashboard's log, for error messages."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return "(no log)"
