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


def split_sweeps(overrides: list[str]) -> tuple[list[str], list[Any]]:
    """train.py -m's overrides: plain ones compose; sweeps (choice(...), a,b, interval) form the search space."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o.input_line for o in parsed if not o.is_sweep_override()], [o for o in parsed if o.is_sweep_override()]


def search_space(cfg: Any, sweeps: list[Any]) -> Check | None:
    """Each swept key names a setting or a config group of this config (a typo would fail every trial)."""
    if not sweeps:
        return None
    groups = cfg.hydra.runtime.choices
    unknown = [o.get_key_element() for o in sweeps if not o.get_key_element().startswith("+")
               and o.key_or_group not in groups and not _has_key(cfg, o.key_or_group)]
    if unknown:
        return fail("search space", f"no such key: {', '.join(unknown)}", "fix the key, or add it with + (as for train.py)")
    return ok("search space", f"{len(sweeps)} swept key(s): {', '.join(o.get_key_element() for o in sweeps)}")


def _has_key(cfg: Any, key: str) -> bool:
    """The key exists (its value may be ??? or an interpolation: nothing is resolved)."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent, default=None, throw_on_resolution_failure=False) if parent else cfg
    return OmegaConf.is_dict(node) and leaf in node.keys()  # `in node` is False for ???


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

    folder = find_conf_dir(conf_dir)
    shown = redact_urls(" ".join(overrides))  # a storage URL typed with its password is never echoed
    print(f"dialsum doctor: {folder / (CONFIG_NAME + '.yaml')} {shown}".rstrip(), flush=True)
    try:
        plain, sweeps = split_sweeps(list(overrides))
        cfg = compose(folder, plain)
        OmegaConf.resolve(cfg.paths)
    except (HydraException, OmegaConfBaseException) as err:
        message = redact_urls(" ".join(str(err).split()))
        print(fail("config", message, "fix the override (same syntax as train.py)").render())
        return EXIT_FAILED
    found = checks(cfg, plain, folder.parent, quick)
    space = search_space(cfg, sweeps)
    if space:
        print(space.render(), flush=True)
        found.append(space)
    print(summary(found))
    return EXIT_FAILED if any(c.status == FAIL for c in found) else 0
