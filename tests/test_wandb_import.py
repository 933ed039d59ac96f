"""`dialsum import-wandb`: our users' W&B sweep files become dialsum sweep presets that run offline."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import CONF, ROOT, run_cli
from dialsum.errors import DialsumError
from dialsum.sweep.wandb_import import import_wandb

STORIES = ROOT / "tests" / "wandb_sweeps"


@pytest.fixture
def conf_copy(tmp_path: Path) -> Path:
    """A private copy of conf/ for the generated presets."""
    return Path(shutil.copytree(CONF, tmp_path / "conf"))


def _convert(conf_copy: Path, story: str) -> tuple[dict, str, list[str]]:
    """Convert one story file; the preset as YAML, its text, and the printed notes."""
    out, notes = import_wandb(STORIES / f"{story}.yaml", story, conf_copy)
    text = out.read_text(encoding="utf-8")
    return yaml.safe_load(text), text, notes


def test_story1_grid_with_hyperband(conf_copy: Path) -> None:
    preset, text, notes = _convert(conf_copy, "story1_grid")
    sweeper = preset["hydra"]["sweeper"]
    assert text.startswith("# @package _global_")
    assert sweeper["sampler"]["name"] == "grid" and sweeper["n_trials"] == 8
    assert sweeper["params"]["training.learning_rate"] == "choice(1e-05, 3e-05, 5e-05, 7e-05)"  # `1e-5` is text in YAML
    # W&B's hyperband is one bracket of successive halving: Optuna's SuccessiveHalvingPruner, not its Hyperband
    assert sweeper["pruner"] == {"name": "successive_halving", "min_resource": 3, "reduction_factor": 3}
    assert preset["training"]["seed"] == 42 and preset["objective"]["metric"] == "eval/rouge_combined_f1"
    assert any("dialsum counts evaluations" in n for n in notes)


def test_story3_bayes_eleven_parameters(conf_copy: Path) -> None:
    preset, _, _ = _convert(conf_copy, "story3_bayes")
    sweeper = preset["hydra"]["sweeper"]
    assert sweeper["sampler"]["name"] == "tpe" and sweeper["n_trials"] == 100 and len(sweeper["params"]) == 11
    assert sweeper["params"]["model.dropout"] == "interval(0.0, 0.5)"
    assert sweeper["params"]["model.max_source_length"] == "choice(256, 512, 768)"
    assert sweeper["params"]["training.label_smoothing_factor"] == "interval(0.0, 0.3)"
    assert sweeper["pruner"] == {"name": "successive_halving", "min_resource": 1, "reduction_factor": 3}  # 81 / 3^4


def test_default_space_is_held_fixed_not_merged_in(conf_copy: Path) -> None:
    preset, _, _ = _convert(conf_copy, "story4_memory")
    params = preset["hydra"]["sweeper"]["params"]
    assert params["training.learning_rate"] == "${training.learning_rate}"  # optuna.yaml sweeps it by default
    assert preset["hydra"]["sweeper"]["n_trials"] == 36 and preset["hardware"]["fp16"] is False


def test_phase_pair_log_uniform_probabilities_nested_normal(conf_copy: Path) -> None:
    phase1, _, notes1 = _convert(conf_copy, "story3_phase1_random")
    low, high = phase1["hydra"]["sweeper"]["params"]["training.learning_rate"][len("tag(log, interval("):-2].split(", ")
    assert abs(float(low) - 1e-6) / 1e-6 < 0.05 and abs(float(high) - 1e-3) / 1e-3 < 0.05  # ln bounds -> values
    assert any("probabilities" in n for n in notes1) and any("q=0.05" in n for n in notes1)
    phase2, _, notes2 = _convert(conf_copy, "story3_phase2_bayes")
    params = phase2["hydra"]["sweeper"]["params"]
    assert params["training.learning_rate"] == "interval(2e-05, 8e-05)"  # nested optimizer.learning_rate, normal
    assert phase2["objective"]["metric"] == "eval/rouge1_f1"  # eval_rouge1_f1 in the W&B file
    assert any("strict" in n for n in notes2) and any("normal" in n for n in notes2)


@pytest.mark.parametrize("body,message", [
    ({"method": "bayes", "metric": {"name": "eval/rouge1_f1"}, "parameters": {"learnin_rate": {"values": [1]}}},
     "'learnin_rate' has no dialsum key. Closest: learning_rate"),
    ({"method": "random", "metric": {"name": "eval/rouge1_f1"},
      "parameters": {"learning_rate": {"distribution": "beta", "min": 0, "max": 1}}}, "'beta' has no Optuna counterpart"),
    ({"method": "random", "metric": {"name": "eval/bleu"}, "parameters": {"seed": {"value": 1}}},
     "metric.name='eval/bleu' is not a metric dialsum logs"),
    ({"method": "grid", "metric": {"name": "eval/loss", "goal": "minimize"},
      "parameters": {"warmup_ratio": {"min": 0.0, "max": 0.3}}}, "method grid takes `values`, int_uniform or q_uniform"),
])
def test_bad_files_are_one_clear_error(tmp_path: Path, conf_copy: Path, body: dict, message: str) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    with pytest.raises(DialsumError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_wandb(path, "bad", conf_copy)
    assert not (conf_copy / "sweep" / "bad.yaml").exists()


def test_cli_refuses_to_overwrite_and_exits_2(tmp_path: Path, conf_copy: Path) -> None:
    cmd = [sys.executable, "-m", "dialsum", "import-wandb", str(STORIES / "story4_memory.yaml"), "--name", "memory",
           "--conf-dir", str(conf_copy)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "exists; pick another --name or pass --force" in result.stderr
    forced = subprocess.run([*cmd, "--force"], capture_output=True, text=True, timeout=120)
    assert f"run it with: python train.py --config-dir {conf_copy.resolve()} -m sweep=memory" in forced.stdout
    assert "Traceback" not in result.stderr
    assert forced.returncode == 0


def _run_two_trials(tmp_path: Path, conf_copy: Path, cache_dir: Path, story: str) -> None:
    """Convert, then `python train.py -m sweep=<story> experiment=quick_test` with 2 trials, offline."""
    import_wandb(STORIES / f"{story}.yaml", story, conf_copy)
    result = run_cli(["--config-dir", str(conf_copy), "-m", f"sweep={story}", "experiment=quick_test",
                      "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "sweep" / "all_results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["state"] in ("COMPLETE", "PRUNED") for r in rows)


@pytest.mark.slow  # ~13 s: a two-trial sweep (the fast run keeps the conversions; make test-slow runs them all)
def test_story1_runs_offline_as_a_two_trial_sweep(tmp_path: Path, conf_copy: Path, cache_dir: Path) -> None:
    _run_two_trials(tmp_path, conf_copy, cache_dir, "story1_grid")


@pytest.mark.slow
@pytest.mark.parametrize("story", ["story3_bayes", "story3_phase1_random", "story3_phase2_bayes", "story4_memory"])
def test_other_stories_run_offline(tmp_path: Path, conf_copy: Path, cache_dir: Path, story: str) -> None:
    _run_two_trials(tmp_path, conf_copy, cache_dir, story)


@pytest.mark.parametrize("key,param,expected", [
    ("training.per_device_train_batch_size", {"min": 8, "max": 32}, "int(interval(8, 32))"),  # inferred int_uniform
    ("training.gradient_accumulation_steps", {"distribution": "q_uniform", "min": 1, "max": 4, "q": 1},
     "int(interval(1, 4))"),  # an integer q gives integers
    ("training.per_device_train_batch_size", {"distribution": "q_uniform", "min": 4, "max": 32, "q": 4},
     "range(4, 36, 4)"),
    ("training.per_device_train_batch_size", {"distribution": "q_log_uniform_values", "min": 4, "max": 32, "q": 4},
     "tag(log, int(interval(4, 32)))"),
    ("training.max_grad_norm", {"distribution": "inv_log_uniform_values", "min": 0.5, "max": 5},
     "tag(log, interval(0.5, 5.0))"),  # W&B draws it within [min, max]
    ("model.dropout", {"distribution": "normal", "mu": 0.1, "sigma": 0.05}, "interval(0.0, 0.25)"),  # clipped at 0
])
def test_distributions_keep_w_and_b_semantics(tmp_path: Path, conf_copy: Path, key: str, param: dict,
                                              expected: str) -> None:
    """What W&B would draw, and nothing a trial would fail on: integers stay integers, ranges stay in bounds."""
    from optuna.distributions import IntDistribution

    from dialsum.sweep.search_space import parse_space

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"method": "random", "metric": {"name": "eval/loss"},
                                    "parameters": {key.split(".")[-1]: param}}), encoding="utf-8")
    out, notes = import_wandb(path, "sem", conf_copy)
    text = yaml.safe_load(out.read_text(encoding="utf-8"))["hydra"]["sweeper"]["params"][key]
    assert text == expected
    dist = parse_space({key: text}, []).distributions[key]
    assert isinstance(dist, IntDistribution) == ("int(" in expected or "range(" in expected)
    assert any("W&B's default, minimize" in n for n in notes)  # no goal in the file


@pytest.mark.parametrize("body,message", [
    ({"early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 1.5}}, "eta=1.5: Optuna's successive halving"),
    ({"parameters": {"dropout": {"distribution": "beta", "a": 2, "b": 5}}}, "'beta' has no Optuna counterpart"),
    ({"parameters": {"seed": {"distribution": "constant"}}}, "constant needs a `value`"),
])
def test_w_and_b_features_without_a_counterpart_are_refused(tmp_path: Path, conf_copy: Path, body: dict,
                                                            message: str) -> None:
    spec = {"method": "random", "metric": {"name": "eval/loss", "goal": "minimize"},
            "parameters": {"seed": {"value": 1}}, **body}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(DialsumError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_wandb(path, "bad", conf_copy)


def _import(tmp_path: Path, conf_copy: Path, spec: dict) -> tuple[dict, list[str]]:
    """Write spec as a W&B file, convert it; the preset and the notes."""
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out, notes = import_wandb(path, "mine", conf_copy, force=True)
    return yaml.safe_load(out.read_text(encoding="utf-8")), notes


def test_command_arguments_carry_over_and_the_rest_is_said(tmp_path: Path, conf_copy: Path) -> None:
    """`command:` held the model and data of the W&B sweep; dropping them silently trained the default model."""
    preset, notes = _import(tmp_path, conf_copy, {
        "program": "scripts/finetune.py", "method": "random", "metric": {"name": "eval/loss", "goal": "minimize"},
        "command": ["${env}", "python", "${program}", "model=t5", "--data=dialogsum_ko", "--lr=3e-4", "--fp16",
                    "--output_dir=out", "${args_no_hyphens}"],
        "parameters": {"learning_rate": {"values": [1e-4, 2e-4]}, "seed": {"value": 7}}})
    assert {"override /model": "t5"} in preset["defaults"] and {"override /data": "dialogsum_ko"} in preset["defaults"]
    assert preset["hydra"]["sweeper"]["params"]["training.learning_rate"] == "choice(0.0001, 0.0002)"  # not 3e-4
    assert preset["training"]["seed"] == 7 and preset["hydra"]["sweeper"]["study_name"].startswith("mine_")
    assert any("program scripts/finetune.py is not run" in n for n in notes)
    assert any("--fp16 dropped" in n for n in notes)
    assert any("output_dir=out dropped: no dialsum setting" in n for n in notes)  # it aborted the import


def test_two_w_and_b_names_for_one_key_are_refused(tmp_path: Path, conf_copy: Path) -> None:
    """encoder.dropout and decoder.dropout both resolve to model.dropout: one of them used to vanish."""
    spec = {"method": "random", "metric": {"name": "eval/loss", "goal": "minimize"},
            "parameters": {"encoder": {"parameters": {"dropout": {"values": [0.1, 0.2]}}},
                           "decoder": {"parameters": {"dropout": {"values": [0.3, 0.4]}}}}}
    with pytest.raises(DialsumError, match="'decoder.dropout' and 'encoder.dropout' both map to model.dropout"):
        _import(tmp_path, conf_copy, spec)


def test_grid_q_uniform_and_integer_keys_follow_w_and_b(tmp_path: Path, conf_copy: Path) -> None:
    """W&B's grid takes q_uniform as np.arange(min, max, q); a float distribution on a batch size draws integers."""
    preset, _ = _import(tmp_path, conf_copy, {
        "method": "grid", "metric": {"name": "eval/loss", "goal": "minimize"},
        "parameters": {"warmup_ratio": {"distribution": "q_uniform", "min": 0.0, "max": 0.2, "q": 0.1},
                       "batch_size": {"distribution": "q_uniform", "min": 8, "max": 32, "q": 8}}})
    params = preset["hydra"]["sweeper"]
    assert params["params"]["training.warmup_ratio"] == "choice(0.0, 0.1)"
    assert params["params"]["training.per_device_train_batch_size"] == "choice(8, 16, 24)" and params["n_trials"] == 6
    preset, notes = _import(tmp_path, conf_copy, {
        "method": "random", "metric": {"name": "eval/loss", "goal": "minimize"},
        "parameters": {"batch_size": {"distribution": "log_uniform_values", "min": 4, "max": 32}}})
    assert preset["hydra"]["sweeper"]["params"]["training.per_device_train_batch_size"] == \
        "tag(log, int(interval(4, 32)))"
    assert any("takes integers" in n for n in notes)


def test_command_words_are_typed_and_a_nested_model_name_picks_the_model(tmp_path: Path, conf_copy: Path) -> None:
    """`--gradient_checkpointing=false` was written as the string 'false' (true to Python: checkpointing on), and
    `model: {name: ...}` swept only the label of the kobart it trained."""
    preset, _ = _import(tmp_path, conf_copy, {
        "method": "grid", "metric": {"name": "eval/loss", "goal": "minimize"},
        "command": ["${env}", "python", "${program}", "--gradient_checkpointing=false", "${args}"],
        "parameters": {"model": {"parameters": {"name": {"values": ["kobart", "t5"]}}}}})
    assert preset["hardware"]["gradient_checkpointing"] is False
    assert preset["hydra"]["sweeper"]["params"]["model"] == "choice('kobart', 't5')"  # the group
    assert "model.name" not in preset["hydra"]["sweeper"]["params"]


@pytest.mark.parametrize("name", ["my sweep", "lr=1", ""])
def test_a_preset_name_that_cannot_be_an_override_is_refused(tmp_path: Path, conf_copy: Path, name: str) -> None:
    with pytest.raises(DialsumError, match="use only letters, digits"):
        import_wandb(STORIES / "story1_grid.yaml", name, conf_copy)
