"""hydra-optuna-sweeper's syntax -> Optuna distributions, validated before any trial runs.

Syntax (same as the plugin users know): `choice(a,b)`, `a,b`, `interval(lo,hi)`, `int(interval(lo,hi))`,
`tag(log, interval(lo,hi))`, `range(a,b[,step])`. One deliberate change: `range` excludes its end for
every sampler, like Python's range (the plugin included it for TPE but not for grid).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

from dialsum.errors import DialsumError


@dataclass
class SearchSpace:
    """Parameters to sample (name -> distribution) and overrides held fixed for every trial."""

    distributions: dict[str, BaseDistribution]
    fixed: list[str]
    grid: dict[str, list[Any]]  # each parameter's values when the space is finite (grid sampler)


def parse_space(params: Mapping[str, Any] | None, arguments: Sequence[str]) -> SearchSpace:
    """Config params first, command-line arguments override them; non-sweep arguments stay fixed."""
    parser = OverridesParser.create()
    lines = [f"{key}={value}" for key, value in (params or {}).items()]
    try:
        from_config = parser.parse_overrides(lines)
        from_cli = parser.parse_overrides(list(arguments))
    except HydraException as err:
        raise DialsumError(f"search space: cannot parse: {err}") from None
    distributions: dict[str, BaseDistribution] = {}
    grid: dict[str, list[Any]] = {}
    fixed: list[str] = []
    cli_keys = {o.get_key_element() for o in from_cli}
    for override in [o for o in from_config if o.get_key_element() not in cli_keys] + from_cli:
        key = override.get_key_element()
        if override.is_sweep_override():
            distributions[key] = to_distribution(override)
            grid[key] = grid_values(distributions[key])
        else:
            fixed.append(override.input_line)
    return SearchSpace(distributions, fixed, grid)


def to_distribution(override: Override) -> BaseDistribution:
    """One sweep override -> one Optuna distribution, with a clear error for an invalid one."""
    name = override.get_key_element()
    value = override.value()
    if isinstance(value, ChoiceSweep):
        choices = list(value.list)
        if not choices:
            raise DialsumError(f"search space: {name}: choice() is empty; give at least one value.")
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if step <= 0 or start >= stop:
            raise DialsumError(f"search space: {name}: range({start}, {stop}, {step}) is empty; "
                               "need start < stop and step > 0.")
        if all(isinstance(x, int) for x in (start, stop, step)):
            last = start + ((stop - 1 - start) // step) * step
            return IntDistribution(start, last, step=step)
        values = list(override.sweep_iterator())
        return CategoricalDistribution(values)
    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        log = "log" in value.tags
        if low is None or high is None or low > high:
            raise DialsumError(f"search space: {name}: interval({low}, {high}) has low > high; swap the bounds.")
        if log and low <= 0:
            raise DialsumError(f"search space: {name}: tag(log, interval({low}, {high})) needs bounds > 0.")
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise DialsumError(f"search space: {name}: unsupported sweep {override.input_line!r}.")


def grid_values(dist: BaseDistribution) -> list[Any]:
    """Values of a finite distribution (for the grid sampler); [] when continuous."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log:
        return list(range(dist.low, dist.high + 1, dist.step))
    return []


def check_keys(space: SearchSpace, job_config: Any) -> None:
    """Every swept key must exist in the composed config (or be added with '+')."""
    from omegaconf import OmegaConf

    group_names = {"model", "data", "hardware", "logger", "training", "generation", "metric", "experiment"}
    for key in space.distributions:
        if key.startswith("+") or key in group_names:
            continue
        if OmegaConf.select(job_config, key, default=_MISSING) is _MISSING:
            raise DialsumError(f"search space: {key!r} is not a key of the config; check the spelling "
                               "(e.g. training.learning_rate) or add a new key with '+'.")


_MISSING = object()
# Searched keys that change nothing unless another key has some value: (key, needs key, idle value, why).
NEEDS = (("generation.length_penalty", "generation.num_beams", 1, "it only weighs beam-search hypotheses"),)


def idle_dimensions(space: SearchSpace, job_config: Any) -> list[str]:
    """A searched key that cannot change any trial (length_penalty with greedy decoding) wastes the search."""
    from omegaconf import OmegaConf

    out = []
    for key, needs, idle, why in NEEDS:
        if key in space.distributions and needs not in space.distributions and \
                OmegaConf.select(job_config, needs, default=None) == idle:
            out.append(f"search space: {key} has no effect with {needs}={idle} ({why}): every value scores the "
                       f"same. Set {needs} > {idle} or search it too.")
    return out
