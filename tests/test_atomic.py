"""Run folder writes: a run killed at any moment leaves the old model folder or the new one, never none."""
from __future__ import annotations

from pathlib import Path

import pytest

from dialsum.tracking import atomic


def _folder(path: Path, text: str) -> Path:
    """A folder with one file, standing in for a saved model."""
    path.mkdir()
    (path / "weights").write_text(text, encoding="utf-8")
    return path


def test_replace_dir_keeps_the_old_folder_until_the_new_one_is_in_place(tmp_path: Path, monkeypatch) -> None:
    final = _folder(tmp_path / "model", "old")
    renames = []
    real_replace = atomic.os.replace

    def killed_at_the_second_rename(src, dst):
        renames.append((Path(src).name, Path(dst).name))
        if len(renames) == 2:
            raise KeyboardInterrupt  # the kill, between moving the old folder aside and moving the new one in
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", killed_at_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        atomic.replace_dir(_folder(tmp_path / "model.tmp", "new"), final)
    assert (tmp_path / ".model.old" / "weights").read_text(encoding="utf-8") == "old"  # nothing deleted yet
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    atomic.replace_dir(tmp_path / "model.tmp", final)                                   # the next run completes it
    assert (final / "weights").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
