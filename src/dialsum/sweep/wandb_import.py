"""`dialsum import-wandb sweep.yaml --name NAME`: a W&B sweep definition -> conf/sweep/NAME.yaml, run offline
by dialsum's Optuna sweeper (W&B's own sweep controller needs the W&B server).

Hand-written because nothing converts W&B sweep files to Optuna: this maps W&B's documented format
(method, metric, parameters, count, early_terminate) onto hydra-optuna-sweeper syntax and says what it
approximates."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import yaml

from dialsum.engine.metric_names import EVAL_METRICS
from dialsum.errors import DialsumError
from dialsum.sweep.wandb_aliases import GROUPS, leaf_keys, resolve_key
from dialsum.sweep.wandb_command import command_values
from dialsum.sweep.wandb_params import distribution, number

SAMPLERS = {"grid": "grid", "random": "random", "bayes": "tpe"}
DEFAULT_TRIALS = 20        # W&B random/bayes sweeps without `count` run until stopped


def import_wandb(path: Path, name: str, conf_dir: Path, force: bool = False) -> tuple[Path, list[str]]:
    """Convert and write conf/sweep/<name>.yaml; returns the file and the notes printed to the user."""
    from dialsum.analysis.export import check_name  # one rule for a preset's name (a file and an override value)

    check_name(name)
    spec = _read(path)
    if not (conf_dir / "train.yaml").is_file():
        raise DialsumError(f"--conf-dir {conf_dir} holds no train.yaml; run from the project root or pass "
                           "--conf-dir path/to/dialsum/conf.")
    out = conf_dir / "sweep" / f"{name}.yaml"
    if out.exists() and not force:
        raise DialsumError(f"{out} exists; pick another --name or pass --force to replace it.")
    notes: list[str] = []
    known = leaf_keys(_compose(conf_dir))
    params, fixed = _parameters(spec.get("parameters") or {}, known, notes, spec.get("method") == "grid", {})
    unknown = []
    for arg, value in command_values(spec, notes).items():  # the parameters win over the command's values
        try:
            key = resolve_key(arg, known)
        except DialsumError:  # the W&B program's own flag (--output_dir=..., torchrun's --nproc_per_node=4)
            unknown.append(f"{arg}={value}")
            continue
        if key not in params:
            fixed.setdefault(key, number(value))
    if unknown:
        notes.append(f"command arguments {' '.join(unknown)} dropped: no dialsum setting has these names.")
    for key in _default_space(conf_dir):  # the sweeper's default space would be merged in: hold it fixed
        params.setdefault(key, f"${{{key}}}")
    sweeper = _sweeper(spec, name, params, notes)
    body: dict[str, Any] = {"defaults": [{"override /hydra/sweeper": "optuna"},
                                         {"override /hydra/launcher": "joblib"}]}
    body["objective"] = {"metric": sweeper.pop("_metric"), "direction": sweeper["direction"]}
    for key, value in fixed.items():
        if key in GROUPS:  # a config group: the value picks its yaml file
            body["defaults"].append({f"override /{key}": value})
        else:
            _set(body, key, value)
    body["hydra"] = {"sweeper": sweeper, "launcher": {"n_jobs": "${hydra.sweeper.n_jobs}"}}
    header = ["# @package _global_", f"# Imported from {path.name} by `dialsum import-wandb` on "
              f"{dt.date.today().isoformat()}. Run: python train.py -m sweep={name}"]
    header += [f"# note: {n}" for n in notes]
    from dialsum.tracking.atomic import write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True))
    return out, notes


def _default_space(conf_dir: Path) -> list[str]:
    """Keys swept by conf/hydra/sweeper/optuna.yaml, which every preset's params are merged into."""
    defaults = yaml.safe_load((conf_dir / "hydra" / "sweeper" / "optuna.yaml").read_text(encoding="utf-8"))
    return list((defaults or {}).get("params") or {})


def _read(path: Path) -> dict[str, Any]:
    """The W&B sweep YAML as a mapping, or one clear error."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DialsumError(f"cannot read W&B sweep file {path}: {err.strerror}.") from None
    except yaml.YAMLError as err:
        raise DialsumError(f"{path} is not valid YAML: {err}.") from None
    if not isinstance(spec, dict) or "parameters" not in spec:
        raise DialsumError(f"{path} is not a W&B sweep definition (needs `method` and `parameters`).")
    return spec


def _compose(conf_dir: Path) -> dict[str, Any]:
    """The default train config, to resolve and check parameter names."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
        return OmegaConf.to_container(compose(config_name="train"), resolve=False)


def _sweeper(spec: dict[str, Any], name: str, params: dict[str, str], notes: list[str]) -> dict[str, Any]:
    """Sampler, objective, budget and pruner of the study."""
    method = spec.get("method", "random")
    if method not in SAMPLERS:
        raise DialsumError(f"W&B method {method!r} is unknown; use one of {sorted(SAMPLERS)}.")
    if method == "bayes":
        notes.append("method bayes -> Optuna TPE (W&B uses a Gaussian process): same goal, other model.")
    metric = spec.get("metric") or {}
    goal = metric.get("goal", "minimize")  # W&B's default
    if "goal" not in metric:
        notes.append(f"no metric.goal: W&B's default, minimize, is used for {metric.get('name')}.")
    if "target" in metric:
        notes.append(f"metric.target={metric['target']} dropped: the sweep stops at n_trials or its budget "
                     "(hydra.sweeper.budget), not at a target value.")
    if goal not in ("maximize", "minimize"):
        raise DialsumError(f"metric.goal={goal!r}; use maximize or minimize.")
    count = spec.get("count") or spec.get("run_cap")
    if count is None and method != "grid":
        notes.append(f"no `count`: W&B would run until stopped; n_trials={DEFAULT_TRIALS} (hydra.sweeper.n_trials).")
    if method == "grid":
        count = count or _grid_size(params)
    sweeper: dict[str, Any] = {
        "study_name": f"{name}_${{model.name}}_${{model.init}}", "direction": goal,
        "n_trials": int(count) if count is not None else DEFAULT_TRIALS,
        "sampler": {"name": SAMPLERS[method]}, "pruner": _pruner(spec.get("early_terminate"), notes),
        "params": params, "_metric": _metric(metric.get("name"))}
    return sweeper


def _grid_size(params: dict[str, str]) -> int:
    """Points of a grid: every parameter must be a list of values (as W&B requires too)."""
    from dialsum.sweep.search_space import parse_space

    grid = parse_space({k: v for k, v in params.items() if not v.startswith("${")}, []).grid
    continuous = [key for key, values in grid.items() if not values]
    if continuous:
        raise DialsumError(f"method grid takes `values`, int_uniform or q_uniform parameters (as W&B's grid); "
                           f"{', '.join(continuous)} is continuous.")
    return math.prod(len(values) for values in grid.values())


def _metric(name: str | None) -> str:
    """W&B metric name -> dialsum's eval/* name (eval_x and bare x accepted)."""
    if not name:
        raise DialsumError("the W&B file has no metric.name; add e.g. metric: {name: eval/rouge_combined_f1, "
                           "goal: maximize}.")
    candidates = [name, "eval/" + name.removeprefix("eval_").removeprefix("eval/")]
    for candidate in candidates:
        if candidate in EVAL_METRICS:
            return candidate
    raise DialsumError(f"metric.name={name!r} is not a metric dialsum logs; use one of {', '.join(EVAL_METRICS)}.")


def _pruner(early: dict[str, Any] | None, notes: list[str]) -> dict[str, Any]:
    """early_terminate: hyperband -> Optuna's SuccessiveHalvingPruner, counted in evaluations: W&B's "hyperband"
    is one bracket of asynchronous successive halving (bands min_iter x eta^k; a run below the best 1/eta of the
    runs that reached a band stops), not Optuna's several-bracket Hyperband."""
    if not early:
        return {"name": "none"}
    if early.get("type") != "hyperband":
        raise DialsumError(f"early_terminate.type={early.get('type')!r}: only hyperband exists in W&B.")
    eta = number(early.get("eta", 3))
    if not isinstance(eta, int) or eta < 2:
        raise DialsumError(f"early_terminate.eta={eta!r}: Optuna's successive halving keeps the best 1/eta at each "
                           "rung and needs an integer >= 2; use eta: 2 or 3.")
    if "max_iter" in early:
        max_r = int(early["max_iter"])
        min_r = int(early.get("min_iter") or max(1, int(max_r / eta ** int(early.get("s", 0) or 0))))  # W&B: int(band)
    elif "min_iter" in early:
        min_r = int(early["min_iter"])
    else:
        raise DialsumError("early_terminate hyperband needs min_iter, or max_iter (with s).")
    if "max_iter" in early and "min_iter" not in early and not early.get("s"):
        notes.append(f"hyperband max_iter={early['max_iter']} without s or min_iter: W&B's one band is then at "
                     "max_iter, so no run stops early; give min_iter (or s) to prune.")
    if early.get("strict"):
        notes.append("hyperband strict=true has no Optuna counterpart; Optuna's successive halving is used as is.")
    notes.append(f"hyperband min_iter={min_r}, eta={eta} -> successive_halving min_resource={min_r}, "
                 f"reduction_factor={eta} (W&B's hyperband is one bracket of successive halving). W&B counts the "
                 "logged values of the metric and first compares at value min_iter+1; dialsum counts evaluations "
                 "(one per training.eval_steps) and first compares at evaluation min_resource, as Ray's grace_period.")
    return {"name": "successive_halving", "min_resource": min_r, "reduction_factor": eta}


def _parameters(spec: dict[str, Any], known: dict[str, Any], notes: list[str], grid: bool,
                origin: dict[str, str], prefix: str = "") -> tuple[dict[str, str], dict[str, Any]]:
    """W&B parameters (nested ones flattened) -> search space and fixed values by dialsum key (origin: which W&B
    name set each key, so that two names landing on one key are refused, not one silently dropped)."""
    params: dict[str, str] = {}
    fixed: dict[str, Any] = {}
    for raw, p in spec.items():
        name = f"{prefix}{raw}"
        if not isinstance(p, dict):
            raise DialsumError(f"W&B parameter {name!r} must be a mapping (values / value / distribution).")
        if "parameters" in p:  # nested parameters
            sub_params, sub_fixed = _parameters(p["parameters"], known, notes, grid, origin, prefix=f"{name}.")
            params.update(sub_params)
            fixed.update(sub_fixed)
            continue
        key = resolve_key(name, known)
        if key in origin:
            raise DialsumError(f"W&B parameters {origin[key]!r} and {name!r} both map to {key}; keep one, or name "
                               "the other by its dialsum key.")
        origin[key] = name
        if "value" in p or p.get("distribution") == "constant":
            if "value" not in p:
                raise DialsumError(f"W&B parameter {name!r}: distribution constant needs a `value`.")
            fixed[key] = number(p.get("value"))
        else:
            params[key] = distribution(name, key, p, notes, grid, _takes_ints(key, known.get(key)))
    return params, fixed


def _takes_ints(key: str, default: Any) -> bool:
    """A batch size stays an int; the schema's type decides (num_train_epochs defaults to 8 but takes 2.5)."""
    import typing

    from dialsum.config_schema import SECTIONS

    section, _, field = key.partition(".")
    hints = typing.get_type_hints(SECTIONS[section]) if section in SECTIONS else {}
    if field in hints:
        return hints[field] is int
    return isinstance(default, int) and not isinstance(default, bool)


def _set(body: dict[str, Any], key: str, value: Any) -> None:
    """Fixed W&B `value:` parameters as nested config values."""
    node = body
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
