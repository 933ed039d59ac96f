"""The Hydra-facing sweeper class. Hydra imports every plugin module at start-up of every command, so
this module stays tiny; the implementation (Optuna, threads) lives in dialsum.sweep.optuna_sweep."""
from __future__ import annotations

import logging
import sys
from typing import Any, List, Optional

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_plugins.dialsum_sweeper import config as _config  # noqa: F401 - registers hydra/sweeper=dialsum_optuna

log = logging.getLogger(__name__)


class DialsumOptunaSweeper(Sweeper):
    """Optuna study driven through Hydra's launcher: pruning, no batch barrier, durable resume."""

    def __init__(self, **settings: Any) -> None:
        self._impl: Any = None  # settings are re-read resolved from the full config in setup()

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from dialsum.sweep.optuna_sweep import OptunaSweep

        self._impl = OptunaSweep(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Optional[Any]:
        from dialsum.errors import USER_ERROR_EXIT, DialsumError, log_to_files

        try:
            records = self._impl.sweep(arguments)
        except DialsumError as err:
            log_to_files(log, err)
            print(f"dialsum: error: {err}", file=sys.stderr)
            sys.exit(USER_ERROR_EXIT)
        if self._impl.exit_code:  # interrupted (128 + signal), or stopped by machinery errors or max_failure_rate
            sys.exit(self._impl.exit_code)
        return records
