"""A Lightning app with no dialsum config, pruned by dialsum's sweeper through dialsum.pruning.lightning.

A linear regression on fixed random data: the validation loss falls with the epochs and depends on `lr`, so
the pruner has real curves to compare. It runs in the sweeper's process or a worker, on the CPU, in seconds.
"""
import hydra
import lightning as L
import torch
from omegaconf import DictConfig

from dialsum.pruning.lightning import PruningCallback


class Regression(L.LightningModule):
    """y = x @ w + noise; SGD at the swept learning rate."""

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.layer = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loaders(seed: int) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """The same data for every trial: only the learning rate differs."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, generator=gen)
    y = x @ torch.randn(8, 1, generator=gen) + 0.1 * torch.randn(256, 1, generator=gen)
    train = torch.utils.data.TensorDataset(x[:192], y[:192])
    val = torch.utils.data.TensorDataset(x[192:], y[192:])
    return torch.utils.data.DataLoader(train, batch_size=32), torch.utils.data.DataLoader(val, batch_size=64)


@hydra.main(version_base="1.3", config_path="conf_lightning", config_name="config")
def main(cfg: DictConfig) -> float:
    """Fit; PruningCallback raises TrialPruned when the sweep's pruner stops the trial."""
    torch.manual_seed(0)
    trainer = L.Trainer(max_epochs=int(cfg.epochs), accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[PruningCallback(monitor="val_loss")])
    train, val = loaders(0)
    trainer.fit(Regression(float(cfg.lr)), train, val)
    return float(trainer.callback_metrics["val_loss"])


if __name__ == "__main__":
    main()
