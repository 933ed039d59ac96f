"""Read what a trial's job folder says it ran: metrics.json and Hydra's .hydra/overrides.yaml.

The sweep's outputs (retrain command, best_config.yaml) and the analysis tools (report, export-best) both read
job folders from here, so neither imports the other.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

HYDRA_SUBDIR = ".hydra"
# Override prefixes that belong to one trial or to Hydra itself, never to the experiment being rerun.
SWEEPER_ONLY_PREFIXES = ("trial.", "hydra.", "hydra/")


def read_job_metrics(job_dir: str | Path | None) -> dict[str, Any]:
    """A job folder's metrics.json, {} when missing or unreadable."""
    if not job_dir:
        return {}
    try:
        return json.loads((Path(job_dir) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_sweeper_only(key: str) -> bool:
    """trial.* and hydra.* keys are set by the sweeper for one trial; a rerun must not repeat them."""
    return key.startswith(SWEEPER_ONLY_PREFIXES) or key in ("trial", "hydra")


def override_key(line: str) -> str:
    """`+a.b=1` -> `a.b` (good enough to classify; full parsing happens in export)."""
    return line.split("=", 1)[0].lstrip("+~")


def experiment_overrides(overrides: list[str]) -> list[str]:
    """The overrides that define the experiment, without the sweeper's per-trial ones."""
    return [str(o) for o in overrides if not is_sweeper_only(override_key(str(o)))]


def read_job_overrides(folder: str | Path | None) -> list[str] | None:
    """The job's own .hydra/overrides.yaml (what it actually ran), minus sweeper-only keys; None if absent."""
    if not folder:
        return None
    path = Path(folder) / HYDRA_SUBDIR / "overrides.yaml"
    if not path.is_file():
        return None
    return experiment_overrides([str(o) for o in OmegaConf.load(path)])


CONFIG_FLAGS = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd")  # Hydra's, not overrides
DIR_FLAGS = ("--config-dir", "-cd")  # relative to the working directory: made absolute for a rerun from elsewhere


def config_flags(argv: list[str]) -> list[str]:
    """Hydra's config-location flags as given: a rerun without them composes another config, or fails."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if arg in CONFIG_FLAGS and i + 1 < len(argv):
            out += [arg, str(Path(argv[i + 1]).resolve()) if arg in DIR_FLAGS else argv[i + 1]]
        elif eq and flag in CONFIG_FLAGS:
            out.append(f"{flag}={Path(value).resolve()}" if flag in DIR_FLAGS else arg)
    return out


def rerun_script(script: str, argv: list[str]) -> str:
    """The shell words that start this Hydra app again with the same config location."""
    return " ".join(shlex.quote(word) for word in [script, *config_flags(argv)])


def train_command(overrides: list[str], script: str = "train.py") -> str:
    """One shell line that trains with these overrides (script: another Hydra app's, already shell-quoted)."""
    return f"python {script} " + " ".join(shlex.quote(o) for o in overrides)
