"""One line of `dialsum doctor`: ok / warn / FAIL, what was found, and the fix."""
from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "FAIL"
NAME_WIDTH = 10


@dataclass(frozen=True)
class Check:
    """The outcome of one check (fix: what to do about a warn/FAIL; empty for ok)."""

    status: str
    name: str
    line: str
    fix: str = ""

    def render(self) -> str:
        """`  FAIL  gpu        no CUDA GPU is visible` + an indented fix line."""
        text = f"  {self.status:<5} {self.name:<{NAME_WIDTH}} {self.line}"
        return text + (f"\n  {'':<5} {'':<{NAME_WIDTH}} fix: {self.fix}" if self.fix and self.status != OK else "")


def ok(name: str, line: str) -> Check:
    """A passed check."""
    return Check(OK, name, line)


def warn(name: str, line: str, fix: str = "") -> Check:
    """Works, but probably not what you want for a night of GPU time."""
    return Check(WARN, name, line, fix)


def fail(name: str, line: str, fix: str = "") -> Check:
    """Would fail the run: the doctor exits non-zero."""
    return Check(FAIL, name, line, fix)


def summary(checks: list[Check]) -> str:
    """`9 ok, 1 warning, 0 FAIL`."""
    count = {s: sum(1 for c in checks if c.status == s) for s in (OK, WARN, FAIL)}
    return f"{count[OK]} ok, {count[WARN]} warning(s), {count[FAIL]} FAIL"
