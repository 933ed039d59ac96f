"""`hydra/sweeper=dialsum_basic`, the sweeper of a plain `train.py -m a=1,2 b=x,y`: Hydra's basic sweeper (every
listed combination, in batches), except that a failed job does not end the others and is said in one line."""
from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, List, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

NAME = "dialsum_basic"


class DialsumBasicSweeper(BasicSweeper):
    """Hydra's BasicSweeper with a failure report instead of a traceback at the first failed job."""

    def sweep(self, arguments: List[str]) -> Any:
        """Hydra 1.3's BasicSweeper.sweep (written again: its loop raises the first failure), then the failures."""
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides(self._parse_config() + list(arguments)),
                                              self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        returns: List[Sequence[JobReturn]] = []
        failed: List[BaseException] = []
        try:
            while not self.is_done():
                batch = self.get_job_batch()
                self.validate_batch_is_legal(batch)
                results = self.launcher.launch(batch, initial_job_idx=sum(len(r) for r in returns))
                failed += [_report(r) for r in results if r.status == JobStatus.FAILED]
                returns.append(results)
        except KeyboardInterrupt:  # Ctrl-C: what finished stays in its folder; no traceback
            finished = sorted(p.parent.name for p in sweep_dir.glob("*/metrics.json"))
            print(f"dialsum: stopped. Finished jobs: {', '.join(finished) or 'none'} (folders in {sweep_dir}).",
                  file=sys.stderr)
            sys.exit(130)
        if failed:
            _exit(failed, sum(len(r) for r in returns))
        return returns


def _report(job: JobReturn) -> BaseException:
    """One line for what the user can fix, the job's traceback for anything else (a bug worth its stack)."""
    from dialsum.errors import describe_failure

    error = job._return_value  # a failed job's exception; Hydra's return_value would raise it
    message = describe_failure(error) or "".join(traceback.format_exception(error)).rstrip()
    folder = job.hydra_cfg.hydra.runtime.output_dir if job.hydra_cfg is not None else "?"
    print(f"dialsum: error: job {folder} ({' '.join(job.overrides or [])}): {message}", file=sys.stderr)
    return error


def _exit(failed: List[BaseException], total: int) -> None:
    """Non-zero exit once every job ran: 2 when each failure was the input's, else 1."""
    from dialsum.errors import USER_ERROR_EXIT, DialsumError

    done = f"; the other {total - len(failed)} finished" if total > len(failed) else ""
    print(f"dialsum: {len(failed)} of {total} jobs failed{done}.", file=sys.stderr)
    sys.exit(USER_ERROR_EXIT if all(isinstance(e, DialsumError) for e in failed) else 1)


ConfigStore.instance().store(group="hydra/sweeper", name=NAME, provider="dialsum",
                             node=BasicSweeperConf(_target_=f"{__name__}.{DialsumBasicSweeper.__name__}"))
