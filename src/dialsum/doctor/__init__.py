"""`dialsum doctor [overrides...] [--quick]`: the preflight checklist before a night of GPU time.

The config is composed like `python train.py <overrides>` (Hydra's compose API on the project's conf), then
every check prints one line: ok / warn / FAIL with the fix. The exit code is 1 when any check FAILs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from omegaconf import OmegaConf

from dialsum.doctor import machine, run
from dialsum.doctor.result import FAIL, Check, fail, ok, summary
from dialsum.errors import DialsumError
from dialsum.tracking.redact import redact_urls

EXIT_FAILED = 1
CONFIG_NAME = "train"


def find_conf_dir(conf_dir: Path | None) -> Path:
    """--conf-dir, else ./conf, else the conf folder of the project dialsum is installed from."""
    candidates = [conf_dir] if conf_dir is not None else [Path("conf"), Path(__file__).resolve().parents[3] / "conf"]
    for folder in candidates:
        if (folder / f"{CONFIG_NAME}.yaml").is_file():
            return folder.resolve()
    raise DialsumError(f"no {CONFIG_NAME}.yaml in {candidates[0]}: run dialsum doctor from the project folder, "
                       "or pass --conf-dir <path to conf>.")


def compose(conf_dir: Path, overrides: list[str]) -> Any:
    """The config train.py would run, with the hydra node (sweeper storage, output folders)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        return hydra_compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=True)


def search_space(cfg: Any, space: Any) -> Check | None:
    """A sweep's command line: the sweeper's own checks of its search space (keys exist, values fit their type
    and range), made before any trial there too."""
    from dialsum.space_schema import space_problems
    from dialsum.sweep.search_space import check_keys

    if not space.distributions:
        return None
    try:
        check_keys(space, cfg)
    except DialsumError as err:
        return fail("search space", str(err))
    problems = space_problems(space.distributions)
    if problems:
        return fail("search space", "; ".join(problems), "fix the searched values (same syntax as train.py -m)")
    return ok("search space", f"{len(space.distributions)} swept key(s): {', '.join(space.distributions)}")


def checks(cfg: Any, overrides: list[str], project_root: Path, quick: bool) -> list[Check]:
    """Every check in order; one that crashes is reported as a FAIL of its own, never a traceback."""
    folders = {"outputs": _top(cfg.hydra.run.dir), "multirun": _top(cfg.hydra.sweep.dir),
               "cache": Path(cfg.paths.cache_dir)}
    steps: list[tuple[str, Callable[[], list[Check]]]] = [
        ("versions", machine.versions), ("config", lambda: run.config(cfg)),
        ("cpu", lambda: machine.cpu_load(cfg.hardware, _n_jobs(cfg))),
        ("gpu", lambda: machine.gpus(cfg.hardware, _n_jobs(cfg))), ("data", lambda: run.data(cfg)),
        ("model", lambda: run.checkpoint(cfg.model, int(cfg.generation.max_new_tokens))), ("wandb", lambda: machine.wandb_login(cfg.logger)),
        ("disk", lambda: machine.disk_space(folders)), ("storage", lambda: _storage(cfg))]
    if quick:
        steps.append(("quick", lambda: run.quick_run(overrides, project_root)))
    found: list[Check] = []
    for name, step in steps:
        try:
            results = step()
        except Exception as err:  # noqa: BLE001 - a broken check must not hide the others
            results = [fail(name, f"the check itself failed: {type(err).__name__}: {err}")]
        for result in results:
            print(result.render(), flush=True)
        found += results
    return found


def _n_jobs(cfg: Any) -> int:
    """Parallel trials of the composed sweeper (1 without hydra/sweeper=optuna)."""
    return int(OmegaConf.select(cfg, "hydra.sweeper.n_jobs", default=1) or 1)


def _storage(cfg: Any) -> list[Check]:
    """hydra.sweeper.storage (when the sweeper is composed), else $DIALSUM_STORAGE, checked."""
    from omegaconf.errors import InterpolationResolutionError

    try:
        url = OmegaConf.select(cfg, "hydra.sweeper.storage", default=None)
    except InterpolationResolutionError as err:
        reason = str(err).splitlines()[0]
        return [fail("storage", f"hydra.sweeper.storage does not resolve: {reason}",
                     "set the environment variable it names, e.g. DIALSUM_STORAGE=<URL>")]
    return run.storage(url or os.environ.get("DIALSUM_STORAGE"))


def _top(run_dir: str) -> Path:
    """outputs/<run> -> outputs: the folder all runs share."""
    path = Path(str(run_dir))
    return path.parents[len(path.parents) - 2] if not path.is_absolute() and len(path.parts) > 1 else path.parent


def run_doctor(overrides: list[str], quick: bool = False, conf_dir: Path | None = None) -> int:
    """Print the checklist; 0 when nothing FAILed, else EXIT_FAILED."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from dialsum.sweep.search_space import parse_space

    folder = find_conf_dir(conf_dir)
    shown = redact_urls(" ".join(overrides))  # a storage URL typed with its password is never echoed
    print(f"dialsum doctor: {folder / (CONFIG_NAME + '.yaml')} {shown}".rstrip(), flush=True)
    try:
        space = parse_space(None, list(overrides))  # a sweep's values form its search space; the rest composes
        cfg = compose(folder, space.fixed)
        OmegaConf.resolve(cfg.paths)
    except (HydraException, OmegaConfBaseException, DialsumError) as err:
        message = redact_urls(" ".join(str(err).split()))
        print(fail("config", message, "fix the override (same syntax as train.py)").render())
        return EXIT_FAILED
    found = checks(cfg, space.fixed, folder.parent, quick)
    swept = search_space(cfg, space)
    if swept:
        print(swept.render(), flush=True)
        found.append(swept)
    print(summary(found))
    return EXIT_FAILED if any(c.status == FAIL for c in found) else 0
