"""Atomic writes (temp file in the same folder + rename): a killed run never leaves a torn file."""
from __future__ import annotations

import json
import os
import stat
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable


def _default_mode() -> int:
    """What open() would give a new file (0666 minus umask): mkstemp's 0600 would hide shared results."""
    umask = os.umask(0)
    os.umask(umask)
    return (stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH) & ~umask


_MODE = _default_mode()  # once: umask can only be read by setting it, which is not thread-safe


def write_text(path: Path, text: str, newline: str | None = None) -> None:
    """Write text so readers see the old file or the new one, never half of it."""
    if newline is None:
        text = text.replace("\n", os.linesep)
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """JSON with Korean kept readable (no \\uXXXX escapes)."""
    write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


def replace_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a fully written folder into place; a kill at any moment leaves the old folder or the new one."""
    old = final_dir.with_name(f".{final_dir.name}.old")
    if old.exists():  # left by a run killed between the renames below; the complete folder now replaces it
        shutil.rmtree(old)
    if final_dir.exists():
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    shutil.rmtree(old, ignore_errors=True)
