"""Shaped like hydra-optuna-sweeper's example/custom-search-space-objective.py: part of the space in code."""
import hydra
from omegaconf import DictConfig
from optuna.trial import Trial


@hydra.main(version_base=None, config_path="custom-search-space", config_name="config")
def multi_dimensional_sphere(cfg: DictConfig) -> float:
    """Sum of squares over w, x, y, z (w is added to the config by the sweeper: '+w')."""
    return sum(float(cfg[k]) ** 2 for k in ("w", "x", "y", "z"))


def configure(cfg: DictConfig, trial: Trial) -> None:
    """Define-by-run: z stays near the sampled x, and w is a new key."""
    x = trial.params["x"]
    trial.suggest_float("z", x - cfg.max_z_difference_from_x, x + cfg.max_z_difference_from_x)
    trial.suggest_float("+w", 0.0, 1.0)


if __name__ == "__main__":
    multi_dimensional_sphere()
