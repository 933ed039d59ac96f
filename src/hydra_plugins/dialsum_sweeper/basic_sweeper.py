"""`hydra/sweeper=dialsum_basic`, the sweeper of a plain `train.py -m a=1,2 b=x,y`: Hydra's basic sweeper (every
listed combination, in batches), except that a failed job does not end the others and is said in one line, and a
rerun into the same hydra.sweep.dir keeps the jobs that finished there with the same settings."""
from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Any, List, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

from dialsum import kept_config

log = logging.getLogger(__name__)
NAME = "dialsum_basic"
RECAP_CHARS = 240  # a failure in the closing recap: its message on one line, cut here
# Overrides that say how to run a job, not what it trains: a rerun adding them still matches the finished job.
RESUME_KEY = "training.resume_from_checkpoint"
HOW_TO_RUN = (RESUME_KEY, "artifacts.overwrite")
MAX_LISTED = 3  # conflicting job folders named in the refusal


class DialsumBasicSweeper(BasicSweeper):
    """Hydra's BasicSweeper with a failure report instead of a traceback at the first failed job."""

    def sweep(self, arguments: List[str]) -> Any:
        """Hydra 1.3's BasicSweeper.sweep (written again: its loop raises the first failure), then the failures."""
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides(self._parse_config() + list(arguments)),
                                              self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        earlier = kept_config.snapshot(sweep_dir.glob("*/.hydra/overrides.yaml"))  # an earlier run of this folder
        self._done = self._survey([job for batch in self.overrides for job in batch], earlier) if earlier else {}
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
                for start, jobs in self._jobs_to_run(batch, total):
                    try:
                        results = self.launcher.launch(jobs, initial_job_idx=start)
                    except Exception as err:  # noqa: BLE001 - the launcher broke (a joblib worker killed): go on
                        failed += [(f"  job #{start + i} ({' '.join(job)}): the launcher failed: "
                                    f"{type(err).__name__}: {err}", err) for i, job in enumerate(jobs)]
                        continue
                    failed += [_failed(r, kept) for r in results if r.status == JobStatus.FAILED]
                    returns.append(results)
                total += len(batch)
        except KeyboardInterrupt:  # Ctrl-C: what finished stays in its folder; no traceback
            finished = sorted(p.parent.name for p in sweep_dir.glob("*/metrics.json"))
            print(f"dialsum: stopped. Folders with a finished run: {', '.join(finished) or 'none'} (in {sweep_dir}).\n"
                  f"{self._rest_command(sweep_dir)}", file=sys.stderr)
            sys.exit(130)
        if failed:
            _exit(failed, total)
        return returns

    def _survey(self, jobs: List[Sequence[str]], earlier: dict[Path, bytes]) -> dict[int, Path]:
        """Before any job: the jobs an earlier run into this hydra.sweep.dir finished with the same overrides (kept),
        and a refusal when a job's folder holds another job's run (values added to a list shift the job numbers
        that name the folders: the rerun would refuse, retrain or, with artifacts.overwrite, delete the wrong runs)."""
        done: dict[int, Path] = {}
        clashes: List[str] = []
        for idx, job in enumerate(jobs):
            folder, cfg = self._folder_of(job, idx)
            then = earlier.get(folder / ".hydra" / "overrides.yaml") if folder is not None else None
            if then is None or not _holds_run(folder):
                continue
            ran = [str(o) for o in OmegaConf.create(then.decode())]
            if _what_it_trains(ran) != _what_it_trains(job):
                clashes.append(f"  job #{idx} is ({' '.join(job)}), but {folder} holds ({' '.join(ran)})")
            elif (folder / "metrics.json").is_file() and _same_config(cfg, folder):  # an edited preset: trains
                done[idx] = folder
        if clashes:
            more = f"\n  ... and {len(clashes) - MAX_LISTED} more" if len(clashes) > MAX_LISTED else ""
            print(f"dialsum: error: {self.config.hydra.sweep.dir} holds an earlier multirun whose jobs differ from "
                  f"this one's at the same job numbers:\n" + "\n".join(clashes[:MAX_LISTED]) + more +
                  "\nA job's number (its place in the combinations of the listed values) names its folder, so only "
                  "the same lists of values can finish that multirun. Give this one a new hydra.sweep.dir.",
                  file=sys.stderr)
            sys.exit(2)
        return done

    def _jobs_to_run(self, batch: Sequence[Sequence[str]], first: int) -> List[tuple[int, List[Sequence[str]]]]:
        """The batch without the jobs an earlier run of this multirun finished with the same settings, as runs of
        consecutive job numbers (a job's number names its folder, so none may shift)."""
        runs: List[tuple[int, List[Sequence[str]]]] = []
        for idx, job in enumerate(batch, start=first):
            if idx in self._done:
                log.info("job #%d (%s) finished earlier in %s with the same settings: kept (artifacts.overwrite=true "
                         "trains it again)", idx, " ".join(job), self._done[idx])
            elif runs and runs[-1][0] + len(runs[-1][1]) == idx:
                runs[-1][1].append(job)
            else:
                runs.append((idx, [job]))
        return runs

    def _folder_of(self, job: Sequence[str], idx: int) -> tuple[Path | None, Any]:
        """The job's folder as Hydra's launchers name it, and its config, composed as they do."""
        try:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(job))
            with open_dict(cfg):
                cfg.hydra.job.id = cfg.hydra.job.num = idx
            return (Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)).resolve(), cfg
        except Exception:  # noqa: BLE001 - a job whose config does not compose runs, and fails with its message
            return None, None

    def _rest_command(self, sweep_dir: Path) -> str:
        """The same command into the same folder; in dialsum's train.py each stopped job resumes its checkpoint."""
        dialsum = "resume_from_checkpoint" in (OmegaConf.select(self.config, "training") or {})  # train.py
        words = [a for a in sys.argv[1:] if not a.lstrip("+~").startswith(("hydra.sweep.dir=", RESUME_KEY + "="))]
        line = [sys.argv[0], *words, f"hydra.sweep.dir={sweep_dir.resolve()}", *([f"{RESUME_KEY}=true"] * dialsum)]
        kept = " (finished jobs are kept)" if dialsum else ""
        return f"To run the rest{kept}:\n  python " + " ".join(shlex.quote(w) for w in line)


def _holds_run(folder: Path) -> bool:
    """A finished run, or a stopped one's checkpoints: what a job in this folder would refuse, retrain or delete
    (engine.checkpoints.refuse_reuse's own test)."""
    from dialsum.engine.checkpoints import finished_run, latest_checkpoint

    return finished_run(folder) or latest_checkpoint(folder) is not None


def _same_config(cfg: Any, folder: Path) -> bool:
    """The job's composed config is the one the folder's run trained with (a preset edited since is not), apart
    from how to run it (resume, overwrite) and the job-local Hydra node."""
    saved = folder / ".hydra" / "config.yaml"
    if cfg is None or not saved.is_file():
        return False
    if OmegaConf.select(cfg, "artifacts.overwrite", default=False):
        return False  # asked to train it again
    now, then = (OmegaConf.to_container(c, resolve=False) for c in (cfg, OmegaConf.load(saved)))
    now.pop("hydra", None)
    for tree in (now, then):
        for key in HOW_TO_RUN:
            section, _, leaf = key.partition(".")
            if isinstance(tree.get(section), dict):
                tree[section].pop(leaf, None)
    return now == then


def _what_it_trains(overrides: Sequence[str]) -> List[str]:
    """A job's overrides without those that only say how to run it."""
    return sorted(str(o) for o in overrides if str(o).lstrip("+~").split("=", 1)[0] not in HOW_TO_RUN)


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
