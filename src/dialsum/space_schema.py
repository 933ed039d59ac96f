"""A sweep's searched values against the config schema: what every trial drawing them would fail on, refused
before the first trial (config_schema.check_sweep_config)."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

from dialsum.config_schema import BOUNDS, SECTIONS, outside, range_text, refuses, type_name


def space_problems(distributions: dict[str, Any]) -> list[str]:
    """Searched values of the wrong type or outside a key's range: every trial drawing one would fail, so refuse
    the space."""
    problems = []
    for key, dist in distributions.items():
        problems += _space_type_problems(key.lstrip("+~"), dist)
        if key not in BOUNDS:
            continue
        values = getattr(dist, "choices", None) or (dist.low, dist.high)
        bad = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and outside(key, v)]
        if bad:
            problems.append(f"search space {key}: {', '.join(map(str, bad))} outside its range "
                            f"(expected {range_text(key)}); a trial drawing it would fail")
    return problems


def _space_type_problems(key: str, dist: Any) -> list[str]:
    """choice() values a key's type refuses, and fractions drawn for an integer key (interval on a batch size)."""
    section, _, field = key.partition(".")
    schema = SECTIONS.get(section)
    if schema is None or field not in {f.name for f in dataclasses.fields(schema)}:
        return []
    hint = typing.get_type_hints(schema)[field]
    choices = getattr(dist, "choices", None)
    if choices is not None:  # the type only: BOUNDS are checked by the caller
        return [f"search space {key}={v!r}: expected {type_name(hint)}; a trial drawing it would fail"
                for v in choices if refuses(schema, field, v)]
    base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if base[0] is int and type(dist).__name__ == "FloatDistribution":  # by name: optuna is not imported here
        draw = f"int(interval({int(dist.low)}, {int(dist.high)}))"
        draw = f"tag(log, {draw})" if getattr(dist, "log", False) else draw
        return [f"search space {key}: interval({dist.low:g}, {dist.high:g}) draws fractions but {key} takes "
                f"integers; use {draw} or choice(...)"]
    return []
