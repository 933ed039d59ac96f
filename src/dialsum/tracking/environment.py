"""What is needed to reproduce a run weeks later: code version, packages, command, seed, machine."""
from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from dialsum.tracking.redact import redact_urls

PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "hydra-core", "omegaconf", "optuna",
            "rouge-score", "kiwipiepy", "wandb", "numpy", "pandas", "dialsum")
GIT_TIMEOUT_S = 5


def _git(args: list[str], cwd: Path) -> str | None:
    """A git query, or None outside a repository / without git."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(name: str) -> str | None:
    """Installed version of a distribution, None when absent."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def snapshot(seed: int, cwd: Path | None = None) -> dict[str, Any]:
    """Environment record written to <run>/environment.json."""
    cwd = cwd or Path.cwd()
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {
        "command": redact_urls(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]])),
        "argv": [redact_urls(a) for a in sys.argv],  # a sweep's storage URL may hold a password
        "cwd": str(cwd),
        "seed": seed,
        "git": {"commit": _git(["rev-parse", "HEAD"], cwd), "dirty": bool(status) if status is not None else None},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
