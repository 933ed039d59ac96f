"""One W&B sweep parameter -> hydra-optuna-sweeper syntax, with W&B's sampling semantics (read in W&B's
sweeps `params.py`): what values it draws, integers when they are integers, within the key's valid range.
Hand-written for the same reason as wandb_import: nothing converts W&B sweep files to Optuna."""
from __future__ import annotations

import math
from typing import Any

from dialsum.errors import DialsumError

NORMAL_WIDTH = 3.0         # normal(mu, sigma) -> uniform over mu +- 3 sigma (Optuna has no normal prior)


def distribution(name: str, key: str, p: dict[str, Any], notes: list[str], grid: bool = False,
                 integer: bool = False) -> str:
    """One W&B distribution in hydra-optuna-sweeper syntax, with W&B's semantics: integer bounds without a
    distribution mean int_uniform, an integer q gives integers, inv_log_uniform_values lies within [min, max],
    a grid's q_uniform is np.arange(min, max, q) (its grid_search.py). `integer`: the key takes integers only."""
    ints = isinstance(number(p.get("min")), int) and isinstance(number(p.get("max")), int)
    dist = p.get("distribution") or ("categorical" if "values" in p else "int_uniform" if ints else "uniform")
    if "values" in p or dist in ("categorical", "int_categorical"):
        if "probabilities" in p:
            notes.append(f"{name}: probabilities {p['probabilities']} dropped: Optuna's samplers draw choices "
                         "uniformly (TPE then learns which are good).")
        return "choice(" + ", ".join(_literal(v) for v in p.get("values") or []) + ")"
    base = dist.removeprefix("q_")
    if base not in VALUE_SPACE and base not in NORMALS:
        raise DialsumError(f"W&B parameter {name!r}: distribution {dist!r} has no Optuna counterpart; use one of "
                           f"{', '.join(sorted(VALUE_SPACE))}, categorical, normal or log_normal (q_ forms too).")
    if base in NORMALS:
        lo, hi, log = _normal_range(name, dist, p, notes)
    else:
        lo, hi = number(p.get("min")), number(p.get("max"))
        if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
            raise DialsumError(f"W&B parameter {name!r}: distribution {dist!r} needs numeric min and max.")
        lo, hi, log = VALUE_SPACE[base](lo, hi)
    lo, hi = _within_bounds(name, key, lo, hi, notes)
    if grid and dist == "q_uniform":
        return _grid_points(name, lo, hi, number(p.get("q", 1)), integer)
    if base == "int_uniform":
        return f"int(interval({math.ceil(lo)}, {math.floor(hi)}))"
    if integer and not dist.startswith("q_"):
        if math.floor(hi) < math.ceil(lo):
            raise DialsumError(f"W&B parameter {name!r}: {key} takes integers and [{lo:g}, {hi:g}] holds none.")
        notes.append(f"{name}: {dist} draws floats, but {key} takes integers: drawn as integers in "
                     f"[{math.ceil(lo)}, {math.floor(hi)}]{' on a log scale' if log else ''}.")
        text = f"int(interval({math.ceil(lo)}, {math.floor(hi)}))"
        return f"tag(log, {text})" if log else text
    if dist.startswith("q_"):
        return _quantized(name, dist, lo, hi, log, number(p.get("q", 1)), notes)
    text = f"interval({_float(lo)}, {_float(hi)})"
    return f"tag(log, {text})" if log else text


# W&B distribution -> (low, high, log) of the values it draws (v1 log forms take natural-log bounds)
VALUE_SPACE = {
    "uniform": lambda lo, hi: (float(lo), float(hi), False),
    "int_uniform": lambda lo, hi: (lo, hi, False),
    "log_uniform_values": lambda lo, hi: (float(lo), float(hi), True),
    "log_uniform": lambda lo, hi: (math.exp(lo), math.exp(hi), True),
    "inv_log_uniform_values": lambda lo, hi: (float(lo), float(hi), True),  # exp(-U), U in [-ln max, -ln min]
    "inv_log_uniform": lambda lo, hi: (math.exp(-hi), math.exp(-lo), True),
}
NORMALS = ("normal", "log_normal")


def _normal_range(name: str, dist: str, p: dict[str, Any], notes: list[str]) -> tuple[float, float, bool]:
    """normal(mu, sigma) -> a uniform over mu +- NORMAL_WIDTH sigma (in log space for log_normal)."""
    mu, sigma = float(number(p.get("mu", 0.0))), float(number(p.get("sigma", 1.0)))
    lo, hi = mu - NORMAL_WIDTH * sigma, mu + NORMAL_WIDTH * sigma
    log = "log" in dist
    notes.append(f"{name}: {dist}(mu={mu}, sigma={sigma}) approximated by a uniform over mu +- "
                 f"{NORMAL_WIDTH:g} sigma{' (in log space)' if log else ''}: Optuna has no normal prior.")
    return (math.exp(lo), math.exp(hi), True) if log else (lo, hi, False)


def _within_bounds(name: str, key: str, lo: float, hi: float, notes: list[str]) -> tuple[float, float]:
    """Clip a range to the values the key can take (config_schema.BOUNDS): a normal's tail below 0 would fail
    every trial that drew it."""
    from dialsum.config_schema import BOUNDS

    if key not in BOUNDS:
        return lo, hi
    low, high, low_allowed = BOUNDS[key]
    new_lo = lo if lo > low or (lo == low and low_allowed) else (low if low_allowed else low + (hi - low) * 1e-3)
    new_hi = hi if high is None else min(hi, high)
    if new_hi <= new_lo:
        raise DialsumError(f"W&B parameter {name!r}: its range [{lo:g}, {hi:g}] holds no value {key} can take.")
    if (new_lo, new_hi) != (lo, hi):
        notes.append(f"{name}: range [{lo:.6g}, {hi:.6g}] clipped to [{new_lo:.6g}, {new_hi:.6g}], the values "
                     f"{key} can take.")
    return new_lo, new_hi


def _quantized(name: str, dist: str, lo: float, hi: float, log: bool, q: Any, notes: list[str]) -> str:
    """W&B rounds q_ draws to multiples of q, integers when q is an integer (a batch size stays an int)."""
    if not isinstance(q, int) or q < 1:
        notes.append(f"{name}: quantization q={q} dropped ({dist} -> {dist[2:]}).")
        text = f"interval({_float(lo)}, {_float(hi)})"
        return f"tag(log, {text})" if log else text
    low, high = math.ceil(lo / q) * q, math.floor(hi / q) * q
    if high < low:
        raise DialsumError(f"W&B parameter {name!r}: no multiple of q={q} lies in [{lo:g}, {hi:g}].")
    if not log:
        return f"int(interval({low}, {high}))" if q == 1 else f"range({low}, {high + q}, {q})"
    if q > 1:
        notes.append(f"{name}: {dist} q={q} -> integers on a log scale; multiples of {q} are not kept "
                     "(Optuna's log-scaled integer ranges have step 1).")
    return f"tag(log, int(interval({max(low, 1)}, {high})))"


def _grid_points(name: str, lo: float, hi: float, q: Any, integer: bool = False) -> str:
    """W&B's grid turns q_uniform into np.arange(min, max, q): max itself is left out (written without numpy)."""
    if not isinstance(q, (int, float)) or q <= 0:
        raise DialsumError(f"W&B parameter {name!r}: q_uniform in a grid needs a positive q, got {q!r}.")
    count = max(0, math.ceil((hi - lo) / q - 1e-9))
    points = [lo + i * q for i in range(count)]
    if not points:
        raise DialsumError(f"W&B parameter {name!r}: its grid np.arange({lo:g}, {hi:g}, {q:g}) is empty.")
    exact = integer or (float(lo).is_integer() and isinstance(q, int))  # integer points: a batch size stays an int
    return "choice(" + ", ".join(str(int(v)) if exact else repr(round(v, 10)) for v in points) + ")"


def _float(value: float) -> str:
    """A bound as written when given (0.3), 6 significant digits when computed (exp of a log bound)."""
    return repr(float(value)) if len(repr(float(value))) <= 10 else f"{value:.6g}"


WORDS = {"true": True, "false": False, "null": None}  # how Hydra's override grammar reads these words


def number(value: Any) -> Any:
    """Text as the program's override would read it: PyYAML keeps `1e-5` (no dot) a string, and a command's
    `--fp16=false` is text, which stayed the string 'false' (true to Python) in the preset."""
    if isinstance(value, str):
        try:
            return int(value) if value.lstrip("+-").isdigit() else float(value)
        except ValueError:
            return WORDS.get(value.strip().lower(), value)
    return value


def _literal(value: Any) -> str:
    """A choice value in Hydra's override grammar."""
    value = number(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    return "null" if value is None else repr(value)
