"""How a job of any Hydra app finds its Optuna trial: environment variables set per job by Hydra itself.

The sweeper adds `++hydra.job.env_set.DIALSUM_TRIAL_*=...` to each trial's overrides. Hydra applies
`hydra.job.env_set` around that one job in whatever process runs it (in-process, a reused joblib/loky worker,
a submitit job) and restores the environment afterwards, so parallel workers never see each other's trial;
subprocesses the job starts (torchrun, DataLoader workers) inherit it. The app's own config stays untouched.
A storage password never travels here: the URL is masked and the job reads the real one from the variable
the sweeper process exported (dialsum.sweep.storage).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

NUMBER_ENV = "DIALSUM_TRIAL_NUMBER"
STUDY_ENV = "DIALSUM_TRIAL_STUDY_NAME"
STORAGE_ENV = "DIALSUM_TRIAL_STORAGE_URL"
PRUNER_ENV = "DIALSUM_TRIAL_PRUNER"   # JSON of hydra.sweeper.pruner: Optuna does not store the pruner
ENV_NAMES = (NUMBER_ENV, STUDY_ENV, STORAGE_ENV, PRUNER_ENV)


@dataclass(frozen=True)
class TrialAddress:
    """Where a job's trial lives: enough to attach to it from any process."""

    number: int
    study_name: str
    storage_url: str    # masked when it has a password
    pruner: dict[str, Any]


def env_overrides(number: int, study_name: str, storage_url: str, pruner: Mapping[str, Any] | None) -> list[str]:
    """Hydra overrides that set this trial's variables for its one job."""
    from dialsum.sweep.trial_job import quote

    values = {NUMBER_ENV: str(number), STUDY_ENV: study_name, STORAGE_ENV: storage_url,
              PRUNER_ENV: json.dumps(dict(pruner or {"name": "none"}), sort_keys=True)}
    return [f"++hydra.job.env_set.{name}={quote(value)}" for name, value in values.items()]


def from_env(environ: Mapping[str, str] | None = None) -> TrialAddress | None:
    """The trial of the running job, or None outside a dialsum sweep."""
    env = os.environ if environ is None else environ
    if not env.get(NUMBER_ENV) or not env.get(STUDY_ENV) or not env.get(STORAGE_ENV):
        return None
    return TrialAddress(number=int(env[NUMBER_ENV]), study_name=env[STUDY_ENV], storage_url=env[STORAGE_ENV],
                        pruner=json.loads(env.get(PRUNER_ENV) or "{}"))
