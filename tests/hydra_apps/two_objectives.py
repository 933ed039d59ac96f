"""A Hydra app with two objectives: model size against error (returns a pair, like hydra-optuna-sweeper)."""
import hydra
from omegaconf import DictConfig

from dialsum import pruning


@hydra.main(version_base="1.3", config_path="conf_two_objectives", config_name="config")
def main(cfg: DictConfig) -> tuple[float, float]:
    """Bigger models err less; a multi-objective study cannot prune, so report() says False."""
    size = int(cfg.width) * int(cfg.depth)
    error = 1.0 / size + (0.05 if cfg.activation == "relu" else 0.0)
    assert pruning.report(error, step=0) is False
    return float(size), round(error, 6)


if __name__ == "__main__":
    main()
