"""`python train.py [overrides]`: train and evaluate one run (or a sweep with -m)."""
import hydra
from omegaconf import DictConfig

from dialsum.app import run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the objective so any sweeper can optimise it."""
    return run_task(cfg, job="train")


if __name__ == "__main__":
    main()
