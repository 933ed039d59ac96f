"""`python predict.py run_dir=<run folder> data.test_path=<csv>`: write a submission CSV."""
import hydra
from omegaconf import DictConfig

from dialsum.app import run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point for prediction with a trained run folder."""
    return run_task(cfg, job="predict")


if __name__ == "__main__":
    main()
