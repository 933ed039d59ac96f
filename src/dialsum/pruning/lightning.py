"""Lightning callback for any app swept by dialsum (imports only where `lightning` is installed).

    trainer = L.Trainer(..., callbacks=[PruningCallback(monitor="val_loss")])
    trainer.fit(model)       # raises optuna.TrialPruned when the pruner stops the trial

Reports `trainer.callback_metrics[monitor]` after each validation with step = epoch, like optuna-integration's
PyTorchLightningPruningCallback (which also works: pass it `dialsum.pruning.trial()`); this one needs no
optuna-integration and does nothing outside a dialsum sweep. Single-process training only (under DDP every
rank would report).
"""
from __future__ import annotations

try:
    from lightning.pytorch import Callback
except ImportError:  # the older package name
    try:
        from pytorch_lightning import Callback
    except ImportError:
        raise ImportError("dialsum.pruning.lightning needs Lightning: pip install lightning "
                          "(dialsum does not depend on it).") from None

from dialsum import pruning


class PruningCallback(Callback):
    """Report the monitored validation metric every epoch; raise TrialPruned when the pruner says so."""

    def __init__(self, monitor: str = "val_loss") -> None:
        super().__init__()
        self.monitor = monitor

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not pruning.in_sweep():
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise KeyError(f"PruningCallback(monitor={self.monitor!r}): not logged; logged metrics are "
                           f"{sorted(trainer.callback_metrics)}")
        if pruning.report(float(value), step=trainer.current_epoch):
            raise pruning.TrialPruned(f"pruned at epoch {trainer.current_epoch} ({self.monitor}={float(value)})")
