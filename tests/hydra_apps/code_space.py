"""A Hydra app whose search space is extended in code: momentum exists only for SGD (define-by-run)."""
import hydra
from omegaconf import DictConfig
from optuna.trial import Trial


def extend(cfg: DictConfig, trial: Trial) -> None:
    """custom_search_space: conditional params on the asked trial; '+' adds a key the config lacks."""
    if trial.params["optimizer"] == "sgd":
        trial.suggest_float("+momentum", 0.0, cfg.max_momentum)
    trial.suggest_int("warmup", 0, 10)


@hydra.main(version_base="1.3", config_path="conf_code_space", config_name="config")
def main(cfg: DictConfig) -> float:
    """Returns a score that uses every param, so tests can recompute it from all_results.jsonl."""
    return round(float(cfg.lr) * 100 + float(cfg.get("momentum", 0.0)) + int(cfg.warmup) / 10, 6)


if __name__ == "__main__":
    main()
