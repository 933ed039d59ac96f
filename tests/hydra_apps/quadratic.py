"""A Hydra app with no dialsum config: one objective over range/choice/interval params, with pruning.

It "trains" for `steps` steps, reports the loss at each through dialsum's public pruning API and stops when
the pruner says so. Everything it does comes from its own config; `log` names a file each job appends one
JSON line to (its pid, the trial number in its environment, its params), so tests can check who ran what.
"""
import json
import os
import time

import hydra
from omegaconf import DictConfig

from dialsum import pruning


def loss_at(cfg: DictConfig, step: int) -> float:
    """Best near lr=1e-2 with adam and 2 layers; the loss shrinks with steps (a learning curve)."""
    import math

    base = abs(math.log10(float(cfg.lr)) + 2.0) + 0.1 * abs(int(cfg.layers) - 2) + (0.2 if cfg.optimizer == "sgd" else 0.0)
    return round(base + 1.0 / (step + 1), 6)


@hydra.main(version_base="1.3", config_path="conf_quadratic", config_name="config")
def main(cfg: DictConfig) -> float:
    """Report every step; a pruned trial raises TrialPruned, a finished one returns its last loss."""
    if cfg.log:
        with open(cfg.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"pid": os.getpid(), "env_number": os.environ.get("DIALSUM_TRIAL_NUMBER"),
                                "lr": float(cfg.lr), "layers": int(cfg.layers), "optimizer": cfg.optimizer}) + "\n")
    loss = float("nan")
    for step in range(int(cfg.steps)):
        time.sleep(float(cfg.sleep))
        loss = loss_at(cfg, step)
        if pruning.report(loss, step=step):
            raise pruning.TrialPruned(f"pruned at step {step}")
    return loss


if __name__ == "__main__":
    main()
