"""HF Trainer callback for any app swept by dialsum: report each evaluation, stop the trial when pruned.

    trainer = Trainer(..., callbacks=[PruningCallback(metric="eval_loss")])
    trainer.train()          # raises optuna.TrialPruned when the pruner stops the trial

It is dialsum's own TrialBridge (what dialsum's train.py uses) attached to the trial from the job's
environment; outside a dialsum sweep it does nothing.
"""
from __future__ import annotations

from optuna import TrialPruned

from dialsum.pruning import trial as current_trial
from dialsum.sweep.bridge import TrialBridge


class PruningCallback(TrialBridge):
    """Reports `metric` (a Trainer metrics key, e.g. eval_loss) with step = evaluations done (1, 2, ...)."""

    def __init__(self, metric: str = "eval_loss", raise_on_prune: bool = True) -> None:
        super().__init__(current_trial(), metric)
        self.raise_on_prune = raise_on_prune  # False: only stop training; the app checks .pruned itself

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.trial is None:
            return control
        if metrics is not None and self.eval_key not in metrics:
            raise KeyError(f"PruningCallback(metric={self.eval_key!r}): the evaluation logged no such metric; "
                           f"use one of {sorted(metrics)}")
        if self.trial.study is not None and len(self.trial.study.directions) > 1:
            return control  # multi-objective studies cannot prune
        control = super().on_evaluate(args, state, control, metrics=metrics, **kwargs)
        if self.pruned and self.raise_on_prune:
            raise TrialPruned(f"pruned after {self.n_reports} evaluation(s) ({self.eval_key}={self.last_value})")
        return control
