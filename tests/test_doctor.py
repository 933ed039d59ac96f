"""dialsum doctor (issue 9 item 3): each check's ok / warn / FAIL line and fix, on configs composed like train.py
(Hydra compose API), GPUs simulated with tests/fake_cuda.py; then the real CLI's exit codes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import CONF, ROOT, compose_cfg
from dialsum.cli import main
from dialsum.doctor import machine, run
from dialsum.doctor.result import FAIL, OK, WARN
from fake_cuda import FakeHost

GIB = 1024 ** 3
SECRET = "s3cr3t-pw"


def _gpus(monkeypatch, n: int, capability: tuple[int, int] = (8, 0), free_gib: float = 70.0) -> FakeHost:
    """n simulated GPUs with memory info and a compute capability."""
    host = FakeHost(n)
    host.patch(monkeypatch.setattr, torch.cuda)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i=0: (int(free_gib * GIB), 80 * GIB), raising=False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: capability)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return host


def _statuses(checks) -> list[str]:
    return [c.status for c in checks]


def test_cpu_config_needs_no_gpu_but_says_when_gpus_sit_idle(monkeypatch) -> None:
    cpu = compose_cfg(["hardware=cpu"]).hardware
    _gpus(monkeypatch, 0)
    assert _statuses(machine.gpus(cpu)) == [OK]
    _gpus(monkeypatch, 2)
    [check] = machine.gpus(cpu)
    assert check.status == WARN and "2 GPU(s) visible" in check.line and "hardware=gpu" in check.fix


def test_a_busy_machine_warns_cpu_trials_with_several_threads(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    cpu = compose_cfg(["hardware=cpu"]).hardware
    [quiet] = machine.cpu_load(cpu, n_jobs=2, load=0.3)
    assert quiet.status == OK and "4 core(s), 2 parallel trial(s) x 2 torch thread(s)" in quiet.line
    [busy] = machine.cpu_load(cpu, n_jobs=2, load=3.5)
    assert busy.status == WARN and "hardware.torch_threads=1" in busy.fix
    one_thread = compose_cfg(["hardware=cpu", "hardware.torch_threads=1"]).hardware
    assert _statuses(machine.cpu_load(one_thread, n_jobs=2, load=3.5)) == [OK]
    assert _statuses(machine.cpu_load(compose_cfg(["hardware=gpu"]).hardware, load=3.5)) == [OK]


def test_gpu_config_without_cuda_fails(monkeypatch) -> None:
    _gpus(monkeypatch, 0)
    [check] = machine.gpus(compose_cfg(["hardware=gpu"]).hardware)
    assert check.status == FAIL and "hardware=cpu" in check.fix


@pytest.mark.parametrize("capability,expected", [((7, 5), FAIL), ((8, 0), OK), ((9, 0), OK)])
def test_bf16_needs_ampere(monkeypatch, capability, expected) -> None:
    _gpus(monkeypatch, 2, capability)
    checks = machine.gpus(compose_cfg(["hardware=bf16"]).hardware)
    assert _statuses(checks) == [expected] * 2
    assert "Fake GPU 0" in checks[0].line and "70.0 of 80.0 GiB free" in checks[0].line
    if expected == FAIL:
        assert "bf16 needs 8.0+" in checks[0].line and "fp16_ckpt" in checks[0].fix


def test_busy_gpu_and_devices_subset(monkeypatch) -> None:
    _gpus(monkeypatch, 4, free_gib=10.0)
    checks = machine.gpus(compose_cfg(["hardware=gpu", "hardware.devices=[1,3]"]).hardware)
    assert [c.line.split()[1] for c in checks] == ["1", "3"] and _statuses(checks) == [WARN, WARN]
    [bad] = machine.gpus(compose_cfg(["hardware=gpu", "hardware.devices=[7]"]).hardware)
    assert bad.status == FAIL and "hardware.devices=[7]" in bad.line


def test_parallel_trials_need_gpu_slots_and_fp16_t5_warns(monkeypatch) -> None:
    _gpus(monkeypatch, 2)
    hardware = compose_cfg(["hardware=gpu"]).hardware
    assert _statuses(machine.gpus(hardware, n_jobs=2)) == [OK, OK]
    checks = machine.gpus(hardware, n_jobs=3)
    assert checks[-1].status == FAIL and "n_jobs=3" in checks[-1].line and "trials_per_gpu" in checks[-1].fix
    checks = run.config(compose_cfg(["hardware=fp16_ckpt", "model=t5"]))
    assert _statuses(checks) == [OK, WARN] and "overflow" in checks[1].line


def test_wandb_online_needs_a_login_and_never_shows_the_key(monkeypatch, tmp_path: Path) -> None:
    logger = compose_cfg(["logger=wandb", "logger.mode=online"]).logger
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    [check] = machine.wandb_login(logger)
    assert check.status == FAIL and "wandb login" in check.fix
    (tmp_path / "netrc").write_text(f"machine api.wandb.ai\n  login user\n  password {SECRET}\n")
    (tmp_path / "netrc").chmod(0o600)
    [check] = machine.wandb_login(logger)
    assert check.status == OK and str(tmp_path / "netrc") in check.line and SECRET not in check.render()
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    [check] = machine.wandb_login(logger)
    assert check.status == OK and "WANDB_API_KEY" in check.line and SECRET not in check.render()
    assert _statuses(machine.wandb_login(compose_cfg(["logger=wandb", "logger.mode=offline"]).logger)) == [OK]


def test_data_checks_are_trainings_checks(cache_dir: Path, tmp_path: Path) -> None:
    checks = run.data(compose_cfg([f"paths.cache_dir={cache_dir}"]))
    assert checks[0].status == OK and "train" in checks[0].line
    missing = run.data(compose_cfg(["data=dialogsum_ko", f"data.train_path={tmp_path / 'no.csv'}"]))
    assert missing[0].status == FAIL and "data file not found" in missing[0].line
    small, train = tmp_path / "small.csv", tmp_path / "train.csv"
    small.write_text("fname,dialogue,summary\nd1,#Person1#: 안녕,인사\nd1,#Person1#: 안녕,인사\n", encoding="utf-8")
    train.write_text("fname,dialogue,summary\n" + "".join(f"t{i},#Person1#: 안녕 {i},인사\n" for i in range(30))
                     + "t30,#Person1#: 안녕,인사\n", encoding="utf-8")
    checks = run.data(compose_cfg(["data=dialogsum_ko", f"data.train_path={train}", f"data.val_path={small}",
                                   f"data.test_path={tmp_path / 'none.csv'}"]))
    assert checks[0].status == OK
    warned = " | ".join(c.line for c in checks if c.status == WARN)
    assert "duplicate fname" in warned and "leakage" in warned and "validation set has" in warned
    assert "predict.py" in warned


def test_pretrained_checkpoint_offline(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    [check] = run.checkpoint(compose_cfg(["model.init=pretrained",
                                          "model.pretrained_name_or_path=dialsum-tests/not-a-real-model"]).model)
    assert check.status == FAIL and "not in the Hugging Face cache" in check.line and "hf download" in check.fix
    assert _statuses(run.checkpoint(compose_cfg([]).model)) == [OK]  # scratch


def test_pretrained_local_folder_goes_through_the_tokenizer_checks(tmp_path: Path) -> None:
    import pretrained_like

    if not pretrained_like.available():
        pytest.skip("shared tokenizer files are not on this machine")
    folder = pretrained_like.build("kobart", tmp_path)
    model = compose_cfg(["model.init=pretrained", f"model.pretrained_name_or_path={folder}"]).model
    [check] = run.checkpoint(model)
    assert check.status == OK and "eos '</s>'" in check.line
    bad = compose_cfg(["model.init=pretrained", f"model.pretrained_name_or_path={folder}",
                       "model.decoder_start_token='<nope>'"]).model
    [check] = run.checkpoint(bad)
    assert check.status == FAIL and "model.decoder_start_token='<nope>'" in check.line
    other = compose_cfg(["model=t5", "model.init=pretrained", f"model.pretrained_name_or_path={folder}"]).model
    [check] = run.checkpoint(other)  # it said ok, and the run then trained a random T5 with exit 0
    assert check.status == FAIL and "is a bart checkpoint" in check.line and "model=kobart" in check.line
    long = compose_cfg(["model.init=pretrained", f"model.pretrained_name_or_path={folder}",
                        "model.max_source_length=2048"]).model
    [check] = run.checkpoint(long, 80)  # doctor said ok; training then refused it (the sweep: every trial)
    assert check.status == FAIL and "more than the 1026 positions" in check.line


def test_storage_checks(tmp_path: Path, monkeypatch) -> None:
    assert _statuses(run.storage(None)) == [OK]
    assert _statuses(run.storage(f"sqlite:///{tmp_path}/x.db")) == [OK]
    assert _statuses(run.storage(str(tmp_path / "journal.log"))) == [OK]
    [check] = run.storage(f"postgresql://dialsum:{SECRET}@127.0.0.1:1/optuna")  # nothing listens on port 1
    assert check.status == FAIL and SECRET not in check.render() and "dialsum:***@127.0.0.1:1" in check.line
    [check] = run.storage(f"postgresq://dialsum:{SECRET}@127.0.0.1:1/optuna")  # a typo in the scheme
    assert check.status == FAIL and "unknown database kind" in check.line and SECRET not in check.render()
    monkeypatch.delenv("DIALSUM_STORAGE", raising=False)
    [check] = run.storage("postgresql://dialsum:***@127.0.0.1:1/optuna")
    assert check.status == FAIL and "DIALSUM_STORAGE" in check.line


def test_disk_space_thresholds(tmp_path: Path, monkeypatch) -> None:
    [check] = machine.disk_space({"cache": tmp_path / "not" / "yet"})  # created at the first run
    assert f"GiB free for cache ({tmp_path / 'not' / 'yet'})" in check.line
    usage = type("Usage", (), {"free": int(0.5 * GIB)})
    monkeypatch.setattr(machine.shutil, "disk_usage", lambda path: usage)
    [check] = machine.disk_space({"outputs": tmp_path, "cache": tmp_path / "c"})
    assert check.status == FAIL and "outputs" in check.line and "cache" in check.line


def test_folders_that_cannot_be_written_fail_with_the_fix(tmp_path: Path) -> None:
    """Free space said ok for a folder nothing could be written in; train.py then ended in a traceback."""
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder", encoding="utf-8")
    checks = machine.disk_space({"outputs": a_file / "run", "cache": tmp_path / "c"})
    assert checks[0].status == FAIL and "outputs" in checks[0].line and "is a file" in checks[0].line
    assert [c.status for c in checks[1:]] == [OK]  # the free space is still said
    [check] = run.storage(str(a_file / "journal.log"))
    assert check.status == FAIL and "is a file, not a folder" in check.line
    [check] = run.storage("sqlite://x.db")  # two slashes: it raised IndexError inside the check
    assert check.status == FAIL and "three slashes" in check.render()
    if os.geteuid() != 0:  # root writes through permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        [check] = [c for c in machine.disk_space({"outputs": locked}) if c.status == FAIL]
        assert "cannot write in" in check.line


# ---- the real CLI ----------------------------------------------------------------------------------------
def _doctor(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a GPU machine
    return subprocess.run([sys.executable, "-m", "dialsum", "doctor", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


def test_cli_exit_codes(cache_dir: Path, tmp_path: Path) -> None:
    good = _doctor(f"paths.cache_dir={cache_dir}")
    assert good.returncode == 0, good.stdout + good.stderr[-2000:]
    for name in ("versions", "config", "gpu", "data", "model", "wandb", "disk", "storage"):
        assert f"  ok    {name}" in good.stdout, good.stdout



def test_any_fail_exits_1_and_the_password_is_never_shown(cache_dir: Path, monkeypatch, capsys) -> None:
    """In-process (the CLI's exit codes are checked above); no GPU is visible to the simulated host."""
    _gpus(monkeypatch, 0)
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", f"paths.cache_dir={cache_dir}", "hardware=gpu", "data=dialogsum_ko",
              f"hydra.sweeper.storage=postgresql://u:{SECRET}@127.0.0.1:1/db", "hydra/sweeper=optuna"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 1
    assert "  FAIL  gpu" in out and "  FAIL  data" in out and "  FAIL  storage" in out and "3 FAIL" in out
    assert SECRET not in out and "postgresql://u:***@127.0.0.1:1/db" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", "hardware=gpux"])
    assert exit_info.value.code == 1 and "Could not find 'hardware/gpux'" in capsys.readouterr().out


def test_a_sweeps_overrides_are_checked_as_its_search_space(cache_dir: Path, capsys) -> None:
    """`dialsum doctor -m <train.py -m's overrides>` was refused (unknown -m; sweeps need --multirun)."""
    sweep = ["-m", f"paths.cache_dir={cache_dir}", "hydra/sweeper=optuna",
             "training.learning_rate=tag(log, interval(1e-4, 1e-2))", "model=kobart,t5"]
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", *sweep])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "  ok    search space 2 swept key(s)" in out, out
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", *sweep, "training.learnin_rate=1,2"])
    assert exit_info.value.code == 1 and "'training.learnin_rate' is not a key" in capsys.readouterr().out


@pytest.mark.slow
def test_quick_runs_quick_test_end_to_end(cache_dir: Path) -> None:
    result = _doctor(f"paths.cache_dir={cache_dir}", "--quick")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "  ok    quick      experiment=quick_test trained and evaluated end to end" in result.stdout


def test_conf_dir_is_the_projects(tmp_path: Path) -> None:
    from dialsum.doctor import find_conf_dir

    assert find_conf_dir(None) == CONF.resolve() and find_conf_dir(CONF) == CONF.resolve()
    with pytest.raises(Exception, match="--conf-dir"):
        find_conf_dir(tmp_path)


def test_storage_from_an_unset_environment_variable_fails_with_the_fix(monkeypatch) -> None:
    from dialsum.doctor import _storage, compose

    monkeypatch.delenv("DIALSUM_STORAGE", raising=False)
    cfg = compose(CONF.resolve(), ["hydra/sweeper=optuna", "hydra.sweeper.storage=${oc.env:DIALSUM_STORAGE}"])
    [check] = _storage(cfg)
    assert check.status == FAIL and "DIALSUM_STORAGE" in check.line and "DIALSUM_STORAGE=<URL>" in check.fix
