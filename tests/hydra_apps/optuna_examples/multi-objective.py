"""Shaped like hydra-optuna-sweeper's example/multi-objective.py: the Binh and Korn problem, two objectives."""
from typing import Tuple

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="multi-objective-conf", config_name="config")
def binh_and_korn(cfg: DictConfig) -> Tuple[float, float]:
    """Two values, one per direction."""
    x, y = float(cfg.x), float(cfg.y)
    return 4 * (x * x + y * y), (x - 5) ** 2 + (y - 5) ** 2


if __name__ == "__main__":
    binh_and_korn()
