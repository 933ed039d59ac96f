"""Bad input: one readable message, non-zero exit, no traceback, no half-written run folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

HEADER = "fname,dialogue,summary\n"
ROW = 'd1,"#Person1#: 안녕하세요.\n#Person2#: 네, 안녕하세요.",#Person1#이 인사합니다.\n'


def _csv_args(train: Path, val: Path) -> list[str]:
    """Point data=dialogsum_ko at the given files."""
    return ["data=dialogsum_ko", f"data.train_path={train}", f"data.val_path={val}", "data.test_path=null",
            "debug=fast"]


def _assert_clean_failure(result, tmp_path: Path, *needles: str, code: int = 2) -> None:
    """Exit code, message, no traceback, no run folder left behind."""
    assert result.returncode == code, result.stderr[-2000:]
    for needle in needles:
        assert needle in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if code == 2:  # dialsum's own refusal (Hydra's config errors print their own way): once, on stderr only
        assert (result.stdout + result.stderr).count("dialsum: error:") == 1 and not any(
            needle in result.stdout for needle in needles), result.stdout[-2000:]
    leftovers = [p for p in (tmp_path / "outputs").glob("*")] if (tmp_path / "outputs").exists() else []
    assert not leftovers, leftovers


@pytest.fixture
def good_csv(tmp_path: Path) -> Path:
    path = tmp_path / "good.csv"
    path.write_text(HEADER + ROW, encoding="utf-8")
    return path


def test_missing_data_file(tmp_path: Path, cache_dir: Path, good_csv: Path) -> None:
    result = run_cli(_csv_args(tmp_path / "nope.csv", good_csv), tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "data file not found", "nope.csv")


def test_csv_without_summary_column(tmp_path: Path, cache_dir: Path, good_csv: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("fname,dialogue,topic\nd1,hello,x\n", encoding="utf-8")
    result = run_cli(_csv_args(bad, good_csv), tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "missing column(s) ['summary']", "found ['fname', 'dialogue', 'topic']")


@pytest.mark.parametrize("content,needle", [("", "the file is empty"), (HEADER, "no rows"),
                                            (HEADER + "d1,a,b\nd2,a,b,c\n", "separated by commas"),
                                            ("fname;dialogue;summary\nd1;a;b\n", "separated by ';'"),
                                            ("fname\tdialogue\tsummary\nd1\ta\tb,c\td\n", "separated by '\\t'")])
def test_empty_csv(tmp_path: Path, cache_dir: Path, good_csv: Path, content: str, needle: str) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_text(content, encoding="utf-8")
    result = run_cli(_csv_args(good_csv, bad), tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, needle)


def test_non_utf8_csv(tmp_path: Path, cache_dir: Path, good_csv: Path) -> None:
    bad = tmp_path / "cp949.csv"
    bad.write_bytes((HEADER + ROW).encode("cp949"))
    result = run_cli(_csv_args(bad, good_csv), tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "not valid UTF-8", "iconv")


def test_utf16_csv_gets_the_utf16_fix(tmp_path: Path, cache_dir: Path, good_csv: Path) -> None:
    bad = tmp_path / "excel_unicode.csv"
    bad.write_bytes((HEADER + ROW).encode("utf-16"))
    result = run_cli(_csv_args(bad, good_csv), tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "the file is UTF-16", "iconv -f utf-16 -t utf-8")


def test_a_sweep_on_a_bad_csv_stops_before_the_study_exists(tmp_path: Path, cache_dir: Path, good_csv: Path) -> None:
    """Otherwise every trial fails the same way, and the study recorded with the bad file refuses the fixed rerun."""
    bad = tmp_path / "cp949.csv"
    bad.write_bytes((HEADER + ROW).encode("cp949"))
    sweep_dir = tmp_path / "multirun" / "bad_data"
    args = ["-m", "hydra/sweeper=optuna", f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.n_trials=2",
            *_csv_args(bad, good_csv)]
    result = run_cli(args, tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "not valid UTF-8", "iconv")
    assert not (sweep_dir / "optuna_journal.log").exists() and not (sweep_dir / "0").exists()


def test_a_folder_given_as_a_csv_says_so(tmp_path: Path, cache_dir: Path, good_csv: Path) -> None:
    result = run_cli(_csv_args(tmp_path, good_csv), tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "is a folder, not a CSV file")


def test_unknown_model(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(["model=unknown"], tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "Could not find 'model/unknown'", "kobart", code=1)


def test_unknown_objective_metric(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(["objective.metric=eval/nope"], tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "objective.metric='eval/nope'", "eval/rouge_combined_f1")


def test_fp16_without_cuda(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(["hardware=fp16_ckpt"], tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "needs a CUDA GPU", "hardware=cpu")


def test_pretrained_offline_without_cache(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(["model.init=pretrained", "debug=fast"], tmp_path, cache_dir,
                     env_extra={"HF_HOME": str(tmp_path / "empty_hf_home"), "HF_HUB_OFFLINE": "1"})
    _assert_clean_failure(result, tmp_path, "digit82/kobart-summarization", "model.init=scratch")


def test_unknown_training_argument(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(["debug=fast", "+training.evaluation_strategy=steps"], tmp_path, cache_dir)
    _assert_clean_failure(result, tmp_path, "training.evaluation_strategy is not a TrainingArguments field",
                          "eval_strategy")


def test_a_training_argument_dialsum_sets_itself_is_refused(tmp_path: Path, make_cfg) -> None:
    from dialsum.engine.trainer import training_arguments
    from dialsum.errors import DialsumError

    with pytest.raises(DialsumError, match="training.logging_nan_inf_filter is set by dialsum itself"):
        training_arguments(make_cfg("+training.logging_nan_inf_filter=true"), tmp_path, decoder_only=False)


def test_an_error_goes_to_the_log_file_once_and_not_to_the_console(tmp_path: Path) -> None:
    """The stderr line is the one the user reads; the run's log file still records it."""
    import io
    import logging

    from dialsum.errors import DialsumError, log_to_files

    logger, console = logging.getLogger("dialsum.test_errors"), io.StringIO()
    handlers = [logging.StreamHandler(console), logging.FileHandler(tmp_path / "run.log", encoding="utf-8")]
    for handler in handlers:
        logger.addHandler(handler)
    try:
        log_to_files(logger, DialsumError("data file not found: x.csv"))
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    assert console.getvalue() == ""
    assert (tmp_path / "run.log").read_text(encoding="utf-8") == "data file not found: x.csv\n"


@pytest.mark.slow
def test_a_full_disk_is_one_message(tmp_path: Path, cache_dir: Path) -> None:
    """The run folder on a 700 kB tmpfs (a private mount namespace): the first checkpoint fills it."""
    import os
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to mount a tiny tmpfs in a private mount namespace")
    disk = tmp_path / "disk"
    disk.mkdir()
    command = (f"mount -t tmpfs -o size=700k tmpfs {disk} && exec {sys.executable} {ROOT / 'train.py'} debug=fast "
               f"artifacts.save_model=true hydra.run.dir={disk / 'run'}")
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(["unshare", "--mount", "sh", "-c", command], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "No space left on device" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "paths.cache_dir at another disk" in result.stderr


def _failing_multirun(tmp_path: Path, cache_dir: Path, good_csv: Path) -> tuple[Path, list[str]]:
    """`train.py -m` over two CSVs, one missing, on joblib workers: (its sweep folder, its arguments)."""
    sweep = tmp_path / "mr"
    args = [*_csv_args(tmp_path / "nope.csv", good_csv), f"hydra.sweep.dir={sweep}", "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2"]
    args[1] = f"data.train_path={good_csv},{tmp_path / 'nope.csv'}"
    result = run_cli(["-m", *args], tmp_path, cache_dir)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr, result.stderr[-3000:]
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("dialsum: error:")]
    assert f"job {sweep / '1'} (" in line and "data file not found" in line and "nope.csv" in line, line
    assert "1 of 2 jobs failed; the other 1 finished" in result.stderr
    assert (sweep / "0" / "metrics.json").is_file()
    assert "data file not found" in (sweep / "1" / "train.log").read_text(encoding="utf-8")  # the job's own log says why
    return sweep, args


def test_plain_multirun_reports_a_failed_job_and_runs_the_others(tmp_path: Path, cache_dir: Path,
                                                                  good_csv: Path) -> None:
    """`train.py -m a=1,2` (Hydra's basic sweeper, here over joblib workers): the job with a missing file is one line
    naming it, the other job trains, and the command exits 2 once both ran, without Hydra's traceback."""
    _failing_multirun(tmp_path, cache_dir, good_csv)


@pytest.mark.slow  # ~20 s: the multirun above, then two reruns into its folder
def test_a_plain_multirun_rerun_keeps_finished_jobs_of_the_same_config(tmp_path: Path, cache_dir: Path,
                                                                        good_csv: Path) -> None:
    """Finished jobs were refused and recapped as failures (exit 2); now they are kept, unless the config behind
    the same overrides changed (an edited preset), where the job is refused as before and the run stays."""
    sweep, args = _failing_multirun(tmp_path, cache_dir, good_csv)
    finished = (sweep / "0" / "metrics.json").stat().st_mtime_ns
    again = run_cli(["-m", *args], tmp_path, cache_dir)  # the same command again: job 0 is kept, job 1 still fails
    assert again.returncode == 2 and "1 of 2 jobs failed; the other 1 finished" in again.stderr, again.stderr[-3000:]
    assert f"job #0 (data=dialogsum_ko data.train_path={good_csv} " in again.stdout
    assert f"finished earlier in {sweep / '0'} with the same settings: kept" in again.stdout
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == finished
    saved = sweep / "0" / ".hydra" / "config.yaml"  # a preset edited since: the same overrides, another config
    saved.write_text(saved.read_text(encoding="utf-8").replace("max_steps: 4", "max_steps: 5"), encoding="utf-8")
    edited = run_cli(["-m", *args], tmp_path, cache_dir)
    assert "with the same settings: kept" not in edited.stdout and "holds a finished run" in edited.stderr
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == finished


def test_a_rerun_whose_jobs_moved_to_other_folders_is_refused_before_any_job(tmp_path: Path, cache_dir: Path) -> None:
    """`a=1,2 b=x,y` then `a=1,2 b=x,y,z` into the same hydra.sweep.dir: the job numbers that name the folders
    shift, so the rerun refused some jobs, trained one twice and never ran another (a reviewer's night)."""
    sweep = tmp_path / "mr"
    for num, seed in ((0, 1), (1, 2)):  # an earlier `training.seed=1,2 training.max_steps=2,4`, as its folders hold it
        (sweep / str(num) / ".hydra").mkdir(parents=True)
        (sweep / str(num) / ".hydra" / "overrides.yaml").write_text(
            f"- debug=fast\n- training.seed={seed}\n- training.max_steps=2\n", encoding="utf-8")
        (sweep / str(num) / "metrics.json").write_text("{}", encoding="utf-8")
    result = run_cli(["-m", "debug=fast", "training.seed=1,2", "training.max_steps=2,4", f"hydra.sweep.dir={sweep}"],
                     tmp_path, cache_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "holds an earlier multirun whose jobs differ from this one's" in result.stderr
    assert f"job #1 is (debug=fast training.seed=1 training.max_steps=4), but {sweep / '1'} holds" in result.stderr
    assert "Give this one a new hydra.sweep.dir" in result.stderr
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1"]  # nothing launched, nothing written


def test_plain_multirun_recaps_failures_restores_refused_folders_and_exits_1_on_a_bug(tmp_path: Path, capsys,
                                                                                     monkeypatch) -> None:
    """The end repeats each failure in a line; a bug (not the input) makes it exit 1; a job refused in a folder an
    earlier run filled gets that run's .hydra files back (Hydra rewrote them before the job)."""
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    from dialsum.errors import DialsumError
    from dialsum.kept_config import snapshot
    from hydra_plugins.dialsum_sweeper.basic_sweeper import _exit, _failed

    earlier = tmp_path / "mr" / "1" / ".hydra" / "config.yaml"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("# the earlier run's config\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    kept = snapshot(Path("mr").glob("*/.hydra/*.yaml"))  # hydra.sweep.dir as given (relative); Hydra's output_dir is absolute
    earlier.write_text("# the refused job's config\n", encoding="utf-8")

    def failed(err: Exception, num: int) -> JobReturn:
        hydra_cfg = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(tmp_path / "mr" / str(num))}}})
        return JobReturn(overrides=[f"x={num}"], hydra_cfg=hydra_cfg, status=JobStatus.FAILED, _return_value=err)

    errors = [_failed(failed(ZeroDivisionError("boom"), 0), kept), _failed(failed(DialsumError("refused"), 1), kept)]
    assert earlier.read_text(encoding="utf-8") == "# the earlier run's config\n"
    with pytest.raises(SystemExit) as stop:
        _exit(errors, 3)
    err = capsys.readouterr().err
    assert stop.value.code == 1 and "2 of 3 jobs failed; the other 1 finished" in err
    assert f"{tmp_path / 'mr' / '0'} (x=0): ZeroDivisionError: boom" in err and "(x=1): refused" in err


def test_plain_multirun_goes_on_when_the_launcher_breaks(tmp_path: Path, monkeypatch) -> None:
    """A launcher that raises (a joblib worker killed by the OOM killer) fails that batch's jobs, not the others."""
    from types import SimpleNamespace

    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    from hydra_plugins.dialsum_sweeper.basic_sweeper import DialsumBasicSweeper

    sweeper = DialsumBasicSweeper(max_batch_size=1, params=None)
    calls = []

    def launch(batch, initial_job_idx):
        calls.append(initial_job_idx)
        if initial_job_idx == 0:
            raise RuntimeError("TerminatedWorkerError: a worker was killed")
        return [JobReturn(overrides=list(batch[0]), status=JobStatus.COMPLETED, _return_value=1.0)]

    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "mr")}}})
    sweeper.launcher = SimpleNamespace(launch=launch)
    sweeper.hydra_context = SimpleNamespace(config_loader=None)
    monkeypatch.setattr(sweeper, "validate_batch_is_legal", lambda batch: None)
    from hydra_plugins.dialsum_sweeper import basic_sweeper

    monkeypatch.setattr(basic_sweeper.OverridesParser, "create",
                        lambda config_loader: SimpleNamespace(parse_overrides=lambda o: o))
    monkeypatch.setattr(sweeper, "split_arguments", lambda overrides, size: [[["x=1"]], [["x=2"]]])
    with pytest.raises(SystemExit) as stop:
        sweeper.sweep(["x=1,2"])
    assert calls == [0, 1] and stop.value.code == 1  # the second batch still ran


def test_the_ctrl_c_command_of_another_app_asks_for_no_dialsum_key(tmp_path: Path, monkeypatch) -> None:
    """Any Hydra app may use dialsum_basic: its `training` node has no resume key, and it keeps no finished jobs."""
    from omegaconf import OmegaConf

    from hydra_plugins.dialsum_sweeper.basic_sweeper import DialsumBasicSweeper

    sweeper = DialsumBasicSweeper(max_batch_size=1, params=None)
    monkeypatch.setattr("sys.argv", ["app.py", "-m", "x=1,2", "++hydra.sweep.dir=old"])
    sweeper.config = OmegaConf.create({"training": {"lr": 1}})
    other = sweeper._rest_command(tmp_path)
    assert other == f"To run the rest:\n  python app.py -m x=1,2 hydra.sweep.dir={tmp_path.resolve()}", other
    sweeper.config = OmegaConf.create({"training": {"resume_from_checkpoint": None}})
    ours = sweeper._rest_command(tmp_path)
    assert ours.startswith("To run the rest (finished jobs are kept):") and ours.endswith(
        "training.resume_from_checkpoint=true")
