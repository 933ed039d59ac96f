"""A W&B sweep's `program:` and `command:` -> what dialsum can keep of them (its fixed arguments).

W&B runs `command` (default `${env} ${interpreter} ${program} ${args}`) for every run; dialsum always runs its own
train.py, so the arguments written out in the command (`model=t5`, `--data=dialogsum_ko`) become fixed values
of the preset, and whatever else it holds is said in a note. Hand-written: nothing converts W&B files."""
from __future__ import annotations

import re
from typing import Any

from dialsum.errors import DialsumError

MACRO = re.compile(r"^\$\{[a-z_]+\}$")   # ${env}, ${interpreter}, ${program}, ${args}, ${args_no_hyphens}, ...
INTERPRETERS = ("python", "python3", "/usr/bin/env", "env")
OWN_PROGRAMS = ("train.py",)


def command_values(spec: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """`name: value` pairs written in the command, keyed by their W&B-style name; notes for what is dropped."""
    program = spec.get("program")
    if program and str(program).rsplit("/", 1)[-1] not in OWN_PROGRAMS:
        notes.append(f"program {program} is not run: dialsum trains with its own train.py, so the preset sweeps "
                     "dialsum's models and data (set them in the preset or on the command line).")
    command = spec.get("command") or []
    if not isinstance(command, list):
        raise DialsumError(f"command must be a list of strings (W&B's format), got {command!r}.")
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for token in map(str, command):
        if MACRO.match(token) or token in INTERPRETERS or token.endswith(".py"):
            if token.endswith(".py") and token.rsplit("/", 1)[-1] not in OWN_PROGRAMS:
                dropped.append(token)
            continue
        name, sep, value = token.lstrip("-+").partition("=")
        if sep and name:
            values[name] = value
        else:
            dropped.append(token)
    if dropped:
        notes.append(f"command arguments {' '.join(dropped)} dropped: only `name=value` arguments carry over.")
    return values
