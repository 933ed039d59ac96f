"""Training end to end: the run folder, the four families, plain multirun, prediction."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from conftest import run_cli

FAMILIES = ("kobart", "kogpt2", "t5", "mt5")


def _job_dirs(sweep_dir: Path) -> list[Path]:
    """Job folders of a multirun, in job order."""
    return sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


@pytest.fixture(scope="module")
def families_multirun(tmp_path_factory, cache_dir: Path) -> Path:
    """All four families with experiment=quick_test, in one multirun (imports paid once)."""
    cwd = tmp_path_factory.mktemp("families")
    sweep_dir = cwd / "multirun" / "families"
    result = run_cli(["-m", f"model={','.join(FAMILIES)}", "experiment=quick_test",
                      f"hydra.sweep.dir={sweep_dir}"], cwd, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    (cwd / "cli_output.txt").write_text(result.stdout + result.stderr, encoding="utf-8")
    return sweep_dir


@pytest.mark.parametrize("index,model", list(enumerate(FAMILIES)))
def test_each_family_runs_quick_test_offline(families_multirun: Path, index: int, model: str) -> None:
    job = families_multirun / str(index)
    metrics = json.loads((job / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["model"] == model and metrics["init"] == "scratch" and metrics["state"] == "completed"
    for key in ("eval/rouge1_f1", "eval/rouge2_f1", "eval/rougeL_f1", "eval/rouge_combined_f1", "eval/gen_len"):
        assert key in metrics["best"], key
    assert metrics["objective"]["metric"] == "eval/rouge_combined_f1"
    assert metrics["best_step"] and metrics["train_time_s"] > 0 and metrics["peak_rss_mb"] > 0
    assert metrics["n_evaluations"] == 2  # 12 steps, evaluated every 6
    assert metrics["device"]["type"] == "cpu" and metrics["train_batch_size"] == 16  # this run's, in one process
    assert metrics["started_at"] < metrics["finished_at"] and metrics["train_samples_per_s"] > 0


@pytest.mark.parametrize("index", range(len(FAMILIES)))
def test_run_folder_is_complete(families_multirun: Path, index: int) -> None:
    job = families_multirun / str(index)
    for name in (".hydra/config.yaml", ".hydra/overrides.yaml", "metrics.json", "predictions.jsonl",
                 "environment.json", "train.log", "metrics.csv", "model/model.safetensors", "model/tokenizer.json"):
        assert (job / name).is_file(), name
    rows = [json.loads(line) for line in (job / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 50 and {"fname", "prediction", "reference", "rouge1_f1", "rouge_combined_f1"} <= set(rows[0])
    env = json.loads((job / "environment.json").read_text(encoding="utf-8"))
    assert env["seed"] == 42 and "torch" in env["packages"] and "dirty" in env["git"] and env["command"]
    assert not list(job.glob("**/*.tmp")) and not (job / "checkpoints").exists()


def test_log_says_which_model_ran(families_multirun: Path) -> None:
    log = (families_multirun / "0" / "train.log").read_text(encoding="utf-8")
    assert "model=kobart init=scratch" in log and "model.init=pretrained" in log
    assert "first-utterance baseline" in log


def test_reloading_the_best_checkpoint_reports_no_missing_tied_weights(families_multirun: Path) -> None:
    """Every family reloads its best checkpoint at the end; tied embeddings / lm_head are not 'missing'."""
    output = (families_multirun.parent.parent / "cli_output.txt").read_text(encoding="utf-8")
    assert "There were missing keys" not in output


def test_really_missing_keeps_only_keys_no_loaded_weight_shares() -> None:
    from transformers import BartConfig, BartForConditionalGeneration

    from dialsum.engine.trainer import really_missing

    model = BartForConditionalGeneration(BartConfig(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1,
                                                    encoder_attention_heads=2, decoder_attention_heads=2,
                                                    encoder_ffn_dim=32, decoder_ffn_dim=32))
    tied = ["model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"]
    assert really_missing(model, tied) == []  # model.shared.weight was in the checkpoint
    assert really_missing(model, [*tied, "model.shared.weight"]) == [*tied, "model.shared.weight"]
    assert really_missing(model, ["model.encoder.layernorm_embedding.bias", "x.unknown"]) == [
        "model.encoder.layernorm_embedding.bias", "x.unknown"]


# slow: ~16 s; the families_multirun fixture keeps plain Hydra multirun in the fast run
@pytest.mark.slow
def test_plain_multirun_learning_rate_grid(tmp_path: Path, cache_dir: Path) -> None:
    """The issue's example: 2 models x 2 learning rates = 4 jobs, each with its own metrics."""
    sweep_dir = tmp_path / "multirun" / "grid"
    result = run_cli(["-m", "model=kobart,t5", "training.learning_rate=1e-5,5e-5", "debug=fast",
                      f"hydra.sweep.dir={sweep_dir}"], tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _job_dirs(sweep_dir)
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text(encoding="utf-8"))
        overrides = (job / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")
        seen.add((metrics["model"], "1e-05" in overrides or "1e-5" in overrides))
    assert len(seen) == 4


def test_predict_writes_submission(families_multirun: Path, tmp_path: Path, cache_dir: Path) -> None:
    run_dir = families_multirun / "0"
    test_csv = tmp_path / "test.csv"
    with test_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fname", "dialogue"])
        writer.writerow(["t1", "#Person1#: 내일 오후 3시에 강남역에서 만나자.\n#Person2#: 좋아, 그때 봐."])
        writer.writerow(["t2", "#Person1#: 이 셔츠 얼마예요?\n#Person2#: 3만 원입니다."])
    out = tmp_path / "submission.csv"
    result = run_cli([f"run_dir={run_dir}", f"data.test_path={test_csv}", f"output_path={out}"], tmp_path,
                     cache_dir, script="predict.py")
    assert result.returncode == 0, result.stderr[-3000:]
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["fname"] for r in rows] == ["t1", "t2"] and set(rows[0]) == {"fname", "summary"}


def test_predict_changes_one_decoding_setting_and_keeps_rows_with_empty_dialogues(
        families_multirun: Path, tmp_path: Path, cache_dir: Path) -> None:
    """A submission needs every fname; `generation.num_beams=3` changes the beams and nothing else."""
    run_dir = families_multirun / "0"
    test_csv = tmp_path / "test.csv"
    test_csv.write_text('fname,dialogue\nt1,"#Person1#: 내일 봐.\n#Person2#: 좋아."\nt2,   \nt3,#Person1#: 안녕.\n',
                        encoding="utf-8")
    out = tmp_path / "submission.csv"
    result = run_cli([f"run_dir={run_dir}", f"data.test_path={test_csv}", f"output_path={out}",
                      "generation.num_beams=3"], tmp_path, cache_dir, script="predict.py")
    assert result.returncode == 0, result.stderr[-3000:]
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["fname"] for r in rows] == ["t1", "t2", "t3"] and rows[1]["summary"] == ""
    log = result.stderr + result.stdout
    assert "'num_beams': 3" in log and "changed: {'num_beams': 3}" in log and "empty summary: t2" in log
    refused = run_cli([f"run_dir={run_dir}", f"data.test_path={test_csv}", "generation.num_beams=0"], tmp_path,
                      cache_dir, script="predict.py")
    assert refused.returncode == 2 and "generation.num_beams=0: expected a number >= 1" in refused.stderr
    assert "Traceback" not in refused.stderr
    too_long = run_cli([f"run_dir={run_dir}", f"data.test_path={test_csv}", "generation.max_new_tokens=100000"],
                       tmp_path, cache_dir, script="predict.py")  # an index error after generating, before
    assert too_long.returncode == 2 and "generation.max_new_tokens" in too_long.stderr, too_long.stderr[-3000:]
    assert "Traceback" not in too_long.stderr


def test_predict_scores_with_the_runs_rouge_and_takes_a_new_folder(tmp_path: Path) -> None:
    """A run scored with whitespace ROUGE was rescored by predict.py with morpheme ROUGE (its own default); and
    output_path=<new folder>/ became a file named like the folder."""
    from omegaconf import OmegaConf

    from dialsum.engine.predict import _metric, _output_path

    run = OmegaConf.create({"tokenizer": "whitespace", "composite": {"rouge1": 0.5}})
    assert _metric(run, OmegaConf.create({"metric": {"tokenizer": "morpheme"}})) == run
    partial = _metric(OmegaConf.create({"composite": {"rouge1": 0.5}}), OmegaConf.create({"metric": {
        "tokenizer": "morpheme", "composite": {"rouge1": 0.3, "rouge2": 0.3}}}))  # keys the run's config lacks
    assert partial == {"tokenizer": "morpheme", "composite": {"rouge1": 0.5, "rouge2": 0.3}}
    assert _output_path(f"{tmp_path}/new/") == tmp_path / "new" / "submission.csv"
    assert _output_path(f"{tmp_path}/sub.csv") == tmp_path / "sub.csv"


def test_predict_into_a_folder_under_home_with_only_empty_dialogues_and_a_duplicate_fname(
        families_multirun: Path, tmp_path: Path, cache_dir: Path) -> None:
    """`~` is the home folder, a folder gets submission.csv, an all-empty CSV still gets its rows."""
    home = tmp_path / "home"
    (home / "subs").mkdir(parents=True)
    test_csv = home / "test.csv"
    test_csv.write_text("fname,dialogue\nt1,  \nt1,\n", encoding="utf-8")
    result = run_cli([f"run_dir={families_multirun / '0'}", "data.test_path='~/test.csv'", "output_path='~/subs'"],
                     tmp_path, cache_dir, script="predict.py", env_extra={"HOME": str(home)})
    assert result.returncode == 0, result.stderr[-3000:]
    with (home / "subs" / "submission.csv").open(encoding="utf-8") as fh:
        assert [(r["fname"], r["summary"]) for r in csv.DictReader(fh)] == [("t1", ""), ("t1", "")]
    assert "duplicate fname" in result.stderr + result.stdout and not (tmp_path / "~").exists()


def test_predict_scores_when_references_present(families_multirun: Path, tmp_path: Path, cache_dir: Path) -> None:
    run_dir = families_multirun / "1"  # kogpt2: decoder-only path
    result = run_cli([f"run_dir={run_dir}"], tmp_path, cache_dir, script="predict.py")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scored against the CSV's summaries" in result.stderr + result.stdout
    assert (run_dir / "submission.csv").is_file()


def test_predict_rejects_a_folder_that_is_not_a_run(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli([f"run_dir={tmp_path}"], tmp_path, cache_dir, script="predict.py")
    assert result.returncode == 2 and "not a finished dialsum run folder" in result.stderr
    assert (result.stdout + result.stderr).count("not a finished dialsum run folder") == 1  # printed once
    (tmp_path / "sweep" / "3" / ".hydra").mkdir(parents=True)
    (tmp_path / "sweep" / "3" / ".hydra" / "config.yaml").write_text("model: {}\n", encoding="utf-8")
    sweep = run_cli([f"run_dir={tmp_path / 'sweep'}"], tmp_path, cache_dir, script="predict.py")
    assert sweep.returncode == 2 and "is a sweep folder: none of its job folders kept a model" in sweep.stderr
    assert "export-best" not in sweep.stderr  # a plain multirun: no study to export from
    (tmp_path / "sweep" / "3" / ".hydra" / "config.yaml").write_text("artifacts: {save_model: false}\n",
                                                                    encoding="utf-8")
    sweep = run_cli([f"run_dir={tmp_path / 'sweep'}"], tmp_path, cache_dir, script="predict.py")
    assert "its jobs ran with artifacts.save_model=false (debug=fast sets it)" in sweep.stderr
    (tmp_path / "sweep" / "12" / "model").mkdir(parents=True)
    sweep = run_cli([f"run_dir={tmp_path / 'sweep'}"], tmp_path, cache_dir, script="predict.py")
    assert f"pass one of its job folders that kept a model: run_dir={tmp_path / 'sweep' / '12'}" in sweep.stderr
    (tmp_path / "sweep" / "5" / "model").mkdir(parents=True)  # a sweep's best, as sweep_summary.json names it
    (tmp_path / "sweep" / "sweep_summary.json").write_text(json.dumps({"best": [{"number": 5}]}), encoding="utf-8")
    sweep = run_cli([f"run_dir={tmp_path / 'sweep'}"], tmp_path, cache_dir, script="predict.py")
    assert f"pass the best trial's job folder: run_dir={tmp_path / 'sweep' / '5'}" in sweep.stderr  # not pruned #0
    stopped = tmp_path / "sweep" / "3"
    (stopped / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    (stopped / "checkpoints" / "checkpoint-4" / "trainer_state.json").write_text("{}", encoding="utf-8")
    result = run_cli([f"run_dir={stopped}"], tmp_path, cache_dir, script="predict.py")
    assert result.returncode == 2 and "holds a run that never finished" in result.stderr
    assert f"training.resume_from_checkpoint={stopped / 'checkpoints' / 'checkpoint-4'}" in result.stderr


def test_predict_says_when_the_run_kept_no_model(tmp_path: Path, cache_dir: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("artifacts:\n  save_model: false\n", encoding="utf-8")
    (run_dir / "metrics.json").write_text("{}", encoding="utf-8")  # it finished, without a model
    result = run_cli([f"run_dir={run_dir}"], tmp_path, cache_dir, script="predict.py")
    assert result.returncode == 2 and "trained with artifacts.save_model=false" in result.stderr


@pytest.mark.slow  # moved from the fast run (it measured 10 min 29 s with the venv install): 9 s of training
def test_early_stopping_ends_training(tmp_path: Path, cache_dir: Path) -> None:
    """A threshold no evaluation can beat: training stops after `patience` evaluations without improvement."""
    run_dir = tmp_path / "run"
    result = run_cli(["debug=fast", "training.max_steps=12", "training.early_stopping_patience=1",
                      "training.early_stopping_threshold=10.0", f"hydra.run.dir={run_dir}"], tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["global_step"] == 4 and metrics["n_evaluations"] == 2


@pytest.mark.slow  # ~18 s: a run, a crash, a refused resume and a resume
def test_a_crashed_run_resumes_its_csv_log_and_an_error_on_the_way_keeps_its_checkpoints(
        tmp_path: Path, cache_dir: Path) -> None:
    """Resuming: a mistyped value must not delete the checkpoints, and the resumed log keeps the first run's rows."""
    run_dir = tmp_path / "run"
    common = ["debug=fast", "logger=csv", f"hydra.run.dir={run_dir}", "artifacts.keep_checkpoints=true"]
    assert run_cli(common, tmp_path, cache_dir).returncode == 0
    uninterrupted = _csv_keys(run_dir / "metrics.csv")
    (run_dir / "metrics.json").unlink()                              # as if killed before the end
    typo = run_cli([*common, "training.resume_from_checkpoint=true", "training.learning_rate=-1"], tmp_path,
                   cache_dir)
    assert typo.returncode == 2 and (run_dir / "checkpoints" / "checkpoint-2").is_dir()
    assert "learning_rate=-1" not in (run_dir / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")
    resumed = run_cli([*common, f"training.resume_from_checkpoint={run_dir / 'checkpoints' / 'checkpoint-2'}"],
                      tmp_path, cache_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _csv_keys(run_dir / "metrics.csv") == uninterrupted  # steps 1-2 kept, 3-4 logged once, not twice
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_evaluations"] == 2 and metrics["best_step"] in (2, 4)  # the step-2 evaluation is not lost


def test_a_refused_rerun_into_a_run_folder_leaves_its_config(tmp_path: Path, cache_dir: Path) -> None:
    """Hydra rewrites .hydra/*.yaml before the job; a refused resume must not leave its settings beside the model."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    earlier = {name: f"# the earlier run's {name}\n" for name in ("config.yaml", "hydra.yaml", "overrides.yaml")}
    (run_dir / ".hydra").mkdir()
    for name, text in earlier.items():
        (run_dir / ".hydra" / name).write_text(text, encoding="utf-8")
    typo = run_cli(["debug=fast", f"hydra.run.dir={run_dir}", "training.learning_rate=-1"], tmp_path, cache_dir)
    assert typo.returncode == 2 and "learning_rate" in typo.stderr, typo.stderr[-3000:]
    assert {name: (run_dir / ".hydra" / name).read_text(encoding="utf-8") for name in earlier} == earlier
    assert (run_dir / "checkpoints").is_dir()


def _csv_keys(path: Path) -> list[tuple[str, str]]:
    """(step, metric) of every row of a run's metrics.csv, in order."""
    with path.open(encoding="utf-8") as fh:
        return [(r["step"], r["metric"]) for r in csv.DictReader(fh)]


def test_fast_exit_keeps_exit_status_and_the_atexit_hooks_of_logging_and_trackers(tmp_path: Path) -> None:
    """gc.freeze at exit skips the collector's last walk, nothing a run writes on its way out."""
    import subprocess
    import sys

    out = tmp_path / "hook.txt"
    script = ("import atexit, sys\n"
              "from dialsum import fast_exit\n"
              "fast_exit.install(); n = atexit._ncallbacks(); fast_exit.install()\n"
              "assert atexit._ncallbacks() == n  # once per process, however many jobs it runs\n"
              "atexit.register(lambda: open(sys.argv[1], 'w').write('written at exit'))\n"
              "sys.exit(3)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert out.read_text() == "written at exit"


def test_a_diverging_run_fails_with_one_message(tmp_path: Path, cache_dir: Path) -> None:
    """HF's NaN filter logged a diverged run's loss as 0.0, so it ended 'completed' and could win a sweep."""
    result = run_cli(["debug=fast", "training.max_steps=8", "training.learning_rate=1e6"], tmp_path, cache_dir)
    assert result.returncode == 1 and re.search("loss became (nan|inf)", result.stderr), result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_sigterm_stops_a_run_with_the_command_that_resumes_it(tmp_path: Path, cache_dir: Path) -> None:
    """A killed single run names its last complete checkpoint, and ends by the signal (a shell loop stops too)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import CONF, ROOT

    run_dir, log = tmp_path / "run", tmp_path / "stderr.txt"
    args = ["--config-dir", str(CONF), "experiment=quick_test", "training.max_steps=400", "training.save_steps=2",
            "training.eval_steps=2", f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 300
        while not list(run_dir.glob("checkpoints/checkpoint-*/trainer_state.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    stderr = log.read_text(encoding="utf-8")
    assert proc.returncode == -signal.SIGTERM and "Traceback" not in stderr, stderr[-3000:]
    assert "dialsum: stopped (SIGTERM). To resume" in stderr and not (run_dir / "metrics.json").exists()
    command = stderr.split("To resume", 1)[1].splitlines()[1]
    assert f"hydra.run.dir={run_dir}" in command and "experiment=quick_test" in command
    assert f"training.resume_from_checkpoint={run_dir / 'checkpoints' / 'checkpoint-'}" in command
    assert f"--config-dir {CONF} " in command  # else the resume composes another config


def test_a_run_folder_holding_a_run_is_not_trained_over(tmp_path: Path, cache_dir: Path) -> None:
    """A resume command with its checkpoint argument left out trained afresh over the finished run's model."""
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "metrics.json").write_text("{}", encoding="utf-8")
    again = run_cli(["debug=fast", f"hydra.run.dir={run_dir}"], tmp_path, cache_dir)
    assert again.returncode == 2 and "holds a finished run" in again.stderr and "artifacts.overwrite=true" in \
        again.stderr, again.stderr[-2000:]
    assert (run_dir / "metrics.json").read_text(encoding="utf-8") == "{}" and (run_dir / "model").is_dir()


def test_overwrite_clears_the_earlier_run_first(tmp_path: Path) -> None:
    """artifacts.overwrite=true left the old model and checkpoint-999 beside the new run: predict.py loaded the old
    model, and a crash's resume hint named the old checkpoint."""
    from dialsum.engine.checkpoints import clear_run, latest_checkpoint, refuse_reuse
    from dialsum.errors import DialsumError

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints" / "checkpoint-999").mkdir(parents=True)
    (run_dir / "checkpoints" / "checkpoint-999" / "trainer_state.json").write_text("{}", encoding="utf-8")
    (run_dir / "model").mkdir()
    (run_dir / "metrics.json").write_text("{}", encoding="utf-8")
    (run_dir / "train.log").write_text("the earlier run's log\n", encoding="utf-8")
    assert refuse_reuse(run_dir, None, overwrite=True)  # cleared by the caller once the new run is ready
    assert refuse_reuse(run_dir, str(tmp_path / "other" / "checkpoint-3"), overwrite=True)
    with pytest.raises(DialsumError, match="holds a finished run"):  # a renamed resume command's folder
        refuse_reuse(run_dir, str(tmp_path / "other" / "checkpoint-3"), overwrite=False)
    assert not refuse_reuse(run_dir, str(run_dir / "checkpoints" / "checkpoint-999"), overwrite=False)  # its own
    clear_run(run_dir)
    assert latest_checkpoint(run_dir) is None and not (run_dir / "model").exists()
    assert not (run_dir / "metrics.json").exists() and (run_dir / "train.log").is_file()  # Hydra's log goes on


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path: Path) -> None:
    """Resuming a kobart run with model=t5 failed in torch with two screens of missing keys."""
    from transformers import BartConfig, T5Config

    from dialsum.engine.checkpoints import check_fits
    from dialsum.errors import DialsumError

    checkpoint = tmp_path / "checkpoint-2"
    checkpoint.mkdir()
    BartConfig(vocab_size=2157, d_model=128).save_pretrained(checkpoint)
    check_fits(checkpoint, BartConfig(vocab_size=2157, d_model=128))  # the same model: resumes
    with pytest.raises(DialsumError, match="model_type: bart there, t5 now"):
        check_fits(checkpoint, T5Config(vocab_size=785))


@pytest.mark.slow  # ~40 s: two real jobs, one stopped mid-training, then the printed command finishes the rest
def test_ctrl_c_in_a_plain_multirun_prints_the_command_that_finishes_the_rest(tmp_path: Path, cache_dir: Path) -> None:
    """A night's `train.py -m ...` stopped half-way: the printed command keeps the finished job and resumes the
    stopped one from its checkpoint (before, it only listed folders, and a rerun refused the finished jobs)."""
    import os
    import shlex
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, ctrl_c_as_in_a_terminal

    sweep = tmp_path / "mr"
    args = ["-m", "debug=fast", "training.max_steps=4,40", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "DIALSUM_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + 300
    while not list(sweep.glob("1/checkpoints/checkpoint-*/trainer_state.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Folders with a finished run: 0 " in err, err[-3000:]
    command = shlex.split(err.split("To run the rest (finished jobs are kept):", 1)[1].splitlines()[1])
    assert command[0] == "python" and f"hydra.sweep.dir={sweep}" in command
    assert command[-1] == "training.resume_from_checkpoint=true"
    finished = (sweep / "0" / "metrics.json").stat().st_mtime_ns

    rest = subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert rest.returncode == 0, rest.stderr[-3000:]
    assert "finished earlier in" in rest.stdout and (sweep / "0" / "metrics.json").stat().st_mtime_ns == finished
    log = (sweep / "1" / "train.log").read_text(encoding="utf-8")
    assert f"resuming from {sweep / '1' / 'checkpoints' / 'checkpoint-'}" in log, log[-3000:]
    assert json.loads((sweep / "1" / "metrics.json").read_text(encoding="utf-8"))["global_step"] == 40
