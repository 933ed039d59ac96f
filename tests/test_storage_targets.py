"""report / dashboard / export-best / status on a storage URL instead of a sweep folder (issue 11): a journal
file, an SQLite URL or file holding several studies (--study), a masked password URL resolved through
$DIALSUM_STORAGE, and one readable error when the target is ambiguous or unreachable."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import optuna
import pytest

from dialsum.analysis import study_io
from dialsum.analysis.dashboard import start, stop
from dialsum.analysis.export import export_best
from dialsum.analysis.status import status_text
from dialsum.cli import main
from dialsum.errors import DialsumError
from dialsum.sweep.storage import JOURNAL_FILENAME, open_storage
from fake_sweep import CONF, build_fake_sweep
from test_dashboard import free_port, get_json

os.environ["HF_HUB_OFFLINE"] = "1"
optuna.logging.set_verbosity(optuna.logging.WARNING)
BEST = 2
SECRET = "s3cr3t-pw"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """The default fake sweep (journal in its folder, job folders, summary)."""
    return build_fake_sweep(tmp_path_factory.mktemp("targets"))


@pytest.fixture(scope="module")
def two_studies(sweep: Path) -> Path:
    """An SQLite file holding the fake study (its trials point at the fake job folders) and another one."""
    db = sweep.parent / "shared.db"
    optuna.copy_study(from_study_name="fake_study", from_storage=open_storage(str(sweep / JOURNAL_FILENAME)),
                      to_storage=f"sqlite:///{db}")
    optuna.create_study(study_name="other_study", storage=f"sqlite:///{db}")
    return db


def test_journal_file_is_a_target_and_finds_its_folder(sweep: Path) -> None:
    loaded = study_io.load_sweep(sweep / JOURNAL_FILENAME)
    assert loaded.sweep_dir == sweep and loaded.summary is not None
    assert loaded.study.best_trial.number == BEST


def test_report_on_a_storage_url_writes_into_the_jobs_folder_or_out(sweep: Path, two_studies: Path,
                                                                    tmp_path: Path, capsys) -> None:
    main(["report", f"sqlite:///{two_studies}", "--study", "fake_study", "--out", str(tmp_path / "rep")])
    assert (tmp_path / "rep" / "report.html").is_file() and "fake_study" in (tmp_path / "rep" / "report.md").read_text()
    assert str(tmp_path / "rep" / "report.html") in capsys.readouterr().out
    loaded = study_io.load_sweep(f"sqlite:///{two_studies}", "fake_study")
    assert loaded.sweep_dir == sweep  # the most common parent of the trials' job folders


def test_several_studies_need_study_and_the_error_lists_them(two_studies: Path, capsys) -> None:
    with pytest.raises(DialsumError, match=r"several studies \(fake_study, other_study\).*--study NAME"):
        study_io.load_sweep(f"sqlite:///{two_studies}")
    with pytest.raises(DialsumError, match="has no study 'nope'; it holds: fake_study, other_study"):
        study_io.load_sweep(two_studies, "nope")  # the .db file itself is recognised as SQLite
    with pytest.raises(SystemExit) as exit_info:
        main(["status", f"sqlite:///{two_studies}"])
    assert exit_info.value.code == 2 and "--study NAME" in capsys.readouterr().err


def test_export_best_and_status_on_an_sqlite_file(two_studies: Path, tmp_path: Path) -> None:
    conf = Path(shutil.copytree(CONF, tmp_path / "conf"))
    path = export_best(two_studies, "from_db", conf_dir=conf, study_name="fake_study")
    assert "Best trial 2 of study fake_study" in path.read_text(encoding="utf-8")
    text = status_text(two_studies, "fake_study")
    assert f"best    #{BEST} eval/rouge_combined_f1 = 0.4600" in text and f"sqlite:///{two_studies}" in text


def test_dashboard_on_a_storage_url(two_studies: Path) -> None:
    port = free_port()
    proc, url = start(f"sqlite:///{two_studies}", port=port, study_name="fake_study")
    try:
        names = {s["study_name"] for s in get_json(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]}
        assert names == {"fake_study", "other_study"} and url.endswith("/dashboard")
    finally:
        stop(proc)


def test_masked_password_url_resolves_through_dialsum_storage(two_studies: Path, monkeypatch) -> None:
    """The storage behind the URL is the SQLite stand-in (the test is about the password, not the database)."""
    real = f"postgresql://dialsum:{SECRET}@db.example:5432/optuna"
    masked = "postgresql://dialsum:***@db.example:5432/optuna"
    opened: list[str] = []

    def fake_open(url: str):
        from dialsum.sweep.storage import unmask_url

        opened.append(unmask_url(url))
        return open_storage(f"sqlite:///{two_studies}")

    monkeypatch.setattr(study_io, "open_storage", fake_open)
    monkeypatch.delenv("DIALSUM_STORAGE", raising=False)
    with pytest.raises(DialsumError, match="DIALSUM_STORAGE"):
        study_io.load_sweep(masked, "fake_study")
    monkeypatch.setenv("DIALSUM_STORAGE", real)
    for target in (masked, real):  # typed masked, or typed in full: shown masked either way
        loaded = study_io.load_sweep(target, "fake_study")
        assert loaded.storage_url == masked and loaded.open_url == target and opened[-1] == real
        assert SECRET not in status_text(target, "fake_study")


def test_unreachable_server_is_one_line_without_the_password() -> None:
    url = f"postgresql://dialsum:{SECRET}@127.0.0.1:1/optuna"  # nothing listens on port 1
    with pytest.raises(DialsumError) as err:
        study_io.load_sweep(url)
    assert "cannot open storage postgresql://dialsum:***@127.0.0.1:1/optuna" in str(err.value)
    assert SECRET not in str(err.value)


def test_an_sqlite_storage_in_a_new_folder_opens_like_a_journal_file(tmp_path: Path) -> None:
    """doctor said the folder was writable; the sweep then failed with 'unable to open database file'."""
    from dialsum.sweep.storage import make_folder

    url = f"sqlite:///{tmp_path / 'new' / 'sub' / 'x.db'}"
    make_folder(url)  # what the sweeper does before it opens the storage
    storage = open_storage(url)
    optuna.create_study(study_name="s", storage=storage)
    assert (tmp_path / "new" / "sub" / "x.db").is_file()
