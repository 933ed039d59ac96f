"""Pruning for any Hydra app swept by dialsum's sweeper: report intermediate values, stop bad trials early.

    from dialsum import pruning

    for epoch in range(n_epochs):
        loss = train_one_epoch()
        if pruning.report(loss, step=epoch):   # True: the pruner says this trial is worse than the others
            raise pruning.TrialPruned()        # the sweeper records the trial as PRUNED
    return loss

The job finds its trial from environment variables the sweeper has Hydra set for that one job
(dialsum.sweep.trial_env), so this works in every worker process (joblib, submitit) and in subprocesses the
job starts. Outside a sweep (a plain run, another sweeper) `report` does nothing and returns False. The
trial is a real `optuna.Trial` (`pruning.trial()`), so Optuna's integration callbacks (LightGBM, XGBoost,
optuna-integration's Lightning/Keras callbacks) work with it too; `dialsum.pruning.hf.PruningCallback` is the
callback for HF Trainer.
"""
from __future__ import annotations

import logging
from typing import Any

import optuna
from optuna import TrialPruned

from dialsum.sweep import trial_env

__all__ = ["TrialPruned", "in_sweep", "report", "should_prune", "trial"]
log = logging.getLogger(__name__)
_attached: dict[tuple[str, str, int], optuna.Trial] = {}  # per process; a reused worker attaches per trial


def in_sweep() -> bool:
    """Is this job a trial of dialsum's sweeper?"""
    return trial_env.from_env() is not None


def trial() -> optuna.Trial | None:
    """The running job's Optuna trial (attached across processes), None outside a dialsum sweep."""
    address = trial_env.from_env()
    if address is None:
        return None
    key = (address.storage_url, address.study_name, address.number)
    if key not in _attached:
        _attached.clear()  # one trial per job: the previous job's trial in a reused worker is done
        _attached[key] = _attach(address)
    return _attached[key]


def report(value: float, step: int) -> bool:
    """Record `value` at `step` (epoch, evaluation index...) and say whether the trial should stop now.

    Steps must be distinct integers; the pruner compares trials at equal steps. A multi-objective study
    cannot prune (Optuna): the value is not recorded and False is returned."""
    current = trial()
    if current is None or len(current.study.directions) > 1:
        return False
    current.report(float(value), step=int(step))
    return bool(current.should_prune())


def should_prune() -> bool:
    """The pruner's verdict on the values reported so far (False outside a sweep)."""
    current = trial()
    if current is None or len(current.study.directions) > 1:
        return False
    return bool(current.should_prune())


def _attach(address: trial_env.TrialAddress) -> optuna.Trial:
    """Load the study with the sweep's pruner (Optuna does not store pruners) and take the asked trial."""
    from dialsum.sweep.pruners import build_pruner
    from dialsum.sweep.storage import open_storage

    storage = open_storage(address.storage_url)
    study = optuna.load_study(study_name=address.study_name, storage=storage, pruner=build_pruner(address.pruner))
    study_id = storage.get_study_id_from_name(address.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, address.number)
    return optuna.trial.Trial(study, trial_id)


def __getattr__(name: str) -> Any:
    """`pruning.PruningCallback` is the HF Trainer callback (imports transformers only when asked for)."""
    if name == "PruningCallback":
        from dialsum.pruning.hf import PruningCallback

        return PruningCallback
    raise AttributeError(name)
