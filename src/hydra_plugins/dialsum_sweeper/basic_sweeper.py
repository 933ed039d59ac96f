"""`hydra/sweeper=dialsum_basic`, the sweeper of a plain `train.py -m a=1,2 b=x,y`: Hydra's basic sweeper (every
listed combination, in batches), except that a failed job does not end the others and is said in one line."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from dialsum import kept_config

NAME = "dialsum_basic"
RECAP_CHARS = 240  # a failure in the closing recap: its message on one line, cut here


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
        failed: List[tuple[str, BaseException]] = []
        total = 0
        try:
            while not self.is_done():
                batch = self.get_job_batch()
                self.validate_batch_is_legal(batch)
                kept = kept_config.snapshot(sweep_dir.glob("*/.hydra/*.yaml"))  # an earlier run's jobs
                try:
                    results = self.launcher.launch(batch, initial_job_idx=total)
                except Exception as err:  # noqa: BLE001 - the launcher broke (a joblib worker killed): next batch
                    failed += [(f"  job #{total + i} ({' '.join(job)}): the launcher failed: {type(err).__name__}: "
                                f"{err}", err) for i, job in enumerate(batch)]
                    total += len(batch)
                    continue
                total += len(batch)
                failed += [_failed(r, kept) for r in results if r.status == JobStatus.FAILED]
                returns.append(results)
        except KeyboardInterrupt:  # Ctrl-C: what finished stays in its folder; no traceback
            finished = sorted(p.parent.name for p in sweep_dir.glob("*/metrics.json"))
            print(f"dialsum: stopped. Folders with a finished run: {', '.join(finished) or 'none'} (in {sweep_dir}).",
                  file=sys.stderr)
            sys.exit(130)
        if failed:
            _exit(failed, total)
        return returns


def _failed(job: JobReturn, kept: dict[Path, bytes]) -> tuple[str, BaseException]:
    """A failed job's folder, overrides and first line; a refused job's folder gets its earlier config back."""
    from dialsum.errors import DialsumError, describe_failure

    error = job._return_value  # a failed job's exception; Hydra's return_value would raise it
    folder = Path(job.hydra_cfg.hydra.runtime.output_dir).resolve() if job.hydra_cfg is not None else Path("?")
    if isinstance(error, DialsumError):  # refused before it trained: the folder's earlier run stays whole
        kept_config.put_back({path: content for path, content in kept.items() if path.parent.parent == folder})
    text = " ".join((describe_failure(error) or f"{type(error).__name__}: {error}").split())
    short = text if len(text) <= RECAP_CHARS else text[:RECAP_CHARS - 3] + "..."
    return f"  {folder} ({' '.join(job.overrides or [])}): {short}", error


def _exit(failed: List[tuple[str, BaseException]], total: int) -> None:
    """Once every job ran: the failures again (a long night scrolls the first report away), exit 2 when each
    was the input's, else 1."""
    from dialsum.errors import USER_ERROR_EXIT, DialsumError

    done = f"; the other {total - len(failed)} finished" if total > len(failed) else ""
    lines = [f"dialsum: {len(failed)} of {total} jobs failed{done} (each job's log has its error):"]
    print("\n".join(lines + [line for line, _ in failed]), file=sys.stderr)
    sys.exit(USER_ERROR_EXIT if all(isinstance(e, DialsumError) for _, e in failed) else 1)


ConfigStore.instance().store(group="hydra/sweeper", name=NAME, provider="dialsum",
                             node=BasicSweeperConf(_target_=f"{__name__}.{DialsumBasicSweeper.__name__}"))
