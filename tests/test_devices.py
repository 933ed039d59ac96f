"""GPU placement on a simulated multi-GPU host (tests/fake_cuda.py): claim and pin before CUDA starts,
one visible GPU per run (n_gpu == 1 in TrainingArguments), K runs per GPU, up-front errors, per-run peaks."""
from __future__ import annotations

import multiprocessing as mp
import os
import re
import types
from pathlib import Path

import pytest
import torch

from conftest import ROOT, compose_cfg, run_cli
from dialsum.errors import DialsumError
from dialsum.sweep import devices, worker_check
from dialsum.tracking import resources
from fake_cuda import FakeHost

MB = 1024 * 1024
ENV_NAMES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "LOCAL_RANK", "WORLD_SIZE")


@pytest.fixture
def host(monkeypatch):
    """A fresh simulated 2-GPU host; this process starts as a new worker (no claim, nothing pinned)."""
    fake = FakeHost(2)
    fake.patch(monkeypatch.setattr, torch.cuda)
    saved = {name: os.environ.pop(name, None) for name in ENV_NAMES}  # devices.pin sets os.environ itself
    new_worker(monkeypatch)
    yield fake
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


def new_worker(monkeypatch, host: FakeHost | None = None) -> None:
    """Forget this process's claim, pin and CUDA state, as if it were another worker (the lock stays held)."""
    if host is not None:
        host.frozen, host.torch_initialized = None, False
    monkeypatch.setattr(devices, "_claim", None)
    monkeypatch.setattr(devices, "_host_visible", None)
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)


def gpu_cfg(*overrides: str):
    """hardware=gpu config as train.py would compose it."""
    return compose_cfg(["hardware=gpu", *overrides])


# ---- one run, one GPU, pinned before CUDA initialises -----------------------------------------------
def test_claim_and_pin_come_before_cuda_initialises(host: FakeHost, tmp_path: Path, monkeypatch) -> None:
    from dialsum.engine import run

    stop = RuntimeError("stop after device set-up")
    monkeypatch.setattr("dialsum.data.splits.load_splits", lambda *a, **k: (_ for _ in ()).throw(stop))
    cfg = gpu_cfg(f"paths.cache_dir={tmp_path}", "metric.tokenizer=whitespace")
    with pytest.raises(RuntimeError, match="stop after device set-up"):
        run.train(cfg, tmp_path / "run")  # the real train(): checks, claim, pin, begin_run, then data
    assert host.first_init_env() == "0"                    # CUDA first started with only GPU 0 visible
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert torch.cuda.device_count() == 1
    assert ("reset_peak_memory_stats", "0") in host.events  # this run's peak starts at the claim
    assert (tmp_path / "device_locks" / "device0.slot0.lock").read_text() == str(os.getpid())


def test_training_arguments_see_one_gpu(host: FakeHost, tmp_path: Path) -> None:
    from dialsum.engine.trainer import training_arguments

    cfg = gpu_cfg("training.per_device_train_batch_size=8")
    placement = devices.configure(cfg.hardware, 1, tmp_path)
    args = training_arguments(cfg, tmp_path, decoder_only=False)
    assert (placement.device, args.n_gpu, args.train_batch_size, str(args.device)) == ("cuda:0", 1, 8, "cuda:0")
    assert "host GPU 0 (Fake GPU 0)" in str(placement)


def test_without_the_pin_transformers_would_use_every_gpu(host: FakeHost, tmp_path: Path) -> None:
    """The bug this guards against: HF counts all visible GPUs (DataParallel, batch x n_gpu)."""
    from transformers import Seq2SeqTrainingArguments

    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", per_device_train_batch_size=8)
    assert (args.n_gpu, args.train_batch_size) == (2, 16)


def test_cuda_started_before_the_claim_is_an_error(host: FakeHost, tmp_path: Path) -> None:
    torch.cuda.is_available()  # something initialised CUDA with both GPUs visible
    with pytest.raises(DialsumError, match="sees 2 GPUs after pinning"):
        devices.configure(gpu_cfg().hardware, 1, tmp_path)


def test_users_cuda_visible_devices_is_respected(host: FakeHost, tmp_path: Path, monkeypatch) -> None:
    host.n_gpus = 4
    os.environ["CUDA_VISIBLE_DEVICES"] = "3,1"  # the fixture restores these names
    placement = devices.configure(gpu_cfg("hardware.devices=[1]").hardware, 1, tmp_path)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1" and "host GPU 1" in str(placement)
    assert resources.device_record("cuda") == {"type": "cuda", "index": 1, "name": "Fake GPU 1",
                                               "uuid": "GPU-fake-uuid-1"}


def test_torchrun_placement_is_left_alone(host: FakeHost, tmp_path: Path, monkeypatch) -> None:
    os.environ.update(LOCAL_RANK="1", WORLD_SIZE="2")
    placement = devices.configure(gpu_cfg().hardware, 1, tmp_path)
    assert placement.device == "cuda:1" and "CUDA_VISIBLE_DEVICES" not in os.environ
    assert not list(tmp_path.glob("*.lock"))


# ---- several workers: K per GPU, spread over GPUs first, up-front errors -----------------------------
def _worker(n_gpus: int, lock_dir: str, build_args: bool, results, hold) -> None:
    """A spawned worker on a simulated host: claim, pin, then (optionally) build TrainingArguments like a trial."""
    import fake_cuda

    host = fake_cuda.install(n_gpus)
    from conftest import compose_cfg as compose

    cfg = compose(["hardware=gpu", "training.per_device_train_batch_size=8"])
    try:
        devices.configure(cfg.hardware, 3, Path(lock_dir))
        n_gpu = batch = None
        if build_args:
            from dialsum.engine.trainer import training_arguments

            args = training_arguments(cfg, Path(lock_dir) / str(os.getpid()), decoder_only=False)
            n_gpu, batch = args.n_gpu, args.train_batch_size
        results.put((os.environ["CUDA_VISIBLE_DEVICES"], host.first_init_env(), n_gpu, batch))
    except DialsumError as err:
        results.put(("error", str(err), None, None))
    hold.wait()  # keep the claim, like a live worker


def _spawn_workers(n: int, n_gpus: int, lock_dir: Path, build_args: bool) -> list[tuple]:
    """Start n worker processes at once; their outcomes once all have claimed (or failed)."""
    ctx = mp.get_context("spawn")
    results, hold = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(n_gpus, str(lock_dir), build_args, results, hold)) for _ in range(n)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    hold.set()
    for proc in procs:
        proc.join(timeout=60)
    return outcomes


def test_worker_processes_each_see_only_their_gpu(tmp_path: Path) -> None:
    outcomes = _spawn_workers(3, 2, tmp_path, build_args=False)
    ok = sorted(o[:2] for o in outcomes if o[0] != "error")
    assert ok == [("0", "0"), ("1", "1")]  # each its own GPU, pinned before CUDA started in it
    errors = [o[1] for o in outcomes if o[0] == "error"]
    assert len(errors) == 1 and "claimed by other dialsum processes" in errors[0]


@pytest.mark.slow  # each process imports transformers (~15 s on 2 busy cores); in-process twin above
def test_worker_processes_build_one_gpu_training_arguments(tmp_path: Path) -> None:
    outcomes = _spawn_workers(2, 2, tmp_path, build_args=True)
    assert sorted(outcomes) == [("0", "0", 1, 8), ("1", "1", 1, 8)]  # n_gpu 1: no DataParallel, batch 8


def test_claims_are_released_when_a_worker_exits(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    results, hold = ctx.Queue(), ctx.Event()
    hold.set()
    for _ in range(2):  # one GPU, one slot: each worker gets it after the previous one exited
        proc = ctx.Process(target=_worker, args=(1, str(tmp_path), False, results, hold))
        proc.start()
        assert results.get(timeout=120)[0] == "0"
        proc.join(timeout=60)


@pytest.mark.parametrize("workers,requested,expected", [(1, None, 2), (2, None, 1), (4, None, 1), (2, 3, 3)])
def test_cpu_threads_split_the_cores(monkeypatch, workers: int, requested, expected: int) -> None:
    monkeypatch.setattr(devices.os, "cpu_count", lambda: 2)
    assert devices.cpu_threads(workers, requested) == expected


def test_k_workers_share_each_gpu(host: FakeHost, tmp_path: Path, monkeypatch) -> None:
    hardware = gpu_cfg("hardware.trials_per_gpu=2").hardware
    pinned = []
    for _ in range(4):  # four worker processes, one after another (earlier ones keep their locks)
        new_worker(monkeypatch, host)
        devices.configure(hardware, 4, tmp_path)
        pinned.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert pinned == ["0", "1", "0", "1"]  # slot 0 of every GPU before any GPU gets a second run
    new_worker(monkeypatch, host)
    with pytest.raises(DialsumError, match="all 4 slot"):
        devices.configure(hardware, 5, tmp_path)


def test_a_reused_worker_keeps_its_gpu(host: FakeHost, tmp_path: Path) -> None:
    hardware = gpu_cfg().hardware
    first = devices.configure(hardware, 2, tmp_path)
    second = devices.configure(hardware, 2, tmp_path)  # the next trial in the same process
    assert str(first) == str(second) and os.environ["CUDA_VISIBLE_DEVICES"] == "0"


def test_predict_shares_a_busy_gpu(host: FakeHost, tmp_path: Path, monkeypatch) -> None:
    hardware = gpu_cfg("hardware.devices=[0]").hardware
    devices.configure(hardware, 1, tmp_path)
    new_worker(monkeypatch, host)
    assert "shared" in str(devices.configure(hardware, 1, tmp_path, shared=True))


@pytest.mark.parametrize("n_jobs,per_gpu,ok", [(2, 1, True), (3, 1, False), (4, 2, True), (5, 2, False)])
def test_sweeper_checks_slots_and_sizes_the_launcher(host: FakeHost, n_jobs: int, per_gpu: int, ok: bool) -> None:
    launcher = types.SimpleNamespace(joblib={"n_jobs": -1})  # joblib's default: a worker per CPU
    hardware = gpu_cfg(f"hardware.trials_per_gpu={per_gpu}").hardware
    if ok:
        worker_check.check_workers(hardware, n_jobs, launcher)
    else:
        with pytest.raises(DialsumError, match=f"n_jobs={n_jobs} is more than the {2 * per_gpu} GPU slot"):
            worker_check.check_workers(hardware, n_jobs, launcher)
    assert launcher.joblib["n_jobs"] == n_jobs
    assert host.first_init_env() == "never"  # the sweeper process never initialises CUDA


@pytest.mark.parametrize("override,needle", [
    ("hardware.trials_per_gpu=0", "trials_per_gpu=0 must be an integer >= 1"),
    ("hardware.precision=fp8", "hardware.precision='fp8' is unknown"),
    ("hardware.devices=[2]", "hardware.devices=[2]: 2 GPU(s) are visible"),
])
def test_bad_hardware_settings(host: FakeHost, tmp_path: Path, override: str, needle: str) -> None:
    hardware = gpu_cfg(override).hardware
    with pytest.raises(DialsumError, match=re.escape(needle)):
        devices.check_hardware(hardware)
        devices.configure(hardware, 1, tmp_path)


def test_fp16_with_t5_warns(caplog) -> None:
    kobart = compose_cfg(["hardware=gpu", "hardware.precision=fp16"])
    devices.check_hardware(kobart.hardware, kobart.model)
    assert "prefer hardware=bf16" not in caplog.text          # BART is fine in float16
    t5 = compose_cfg(["hardware=gpu", "hardware.precision=fp16", "model=t5"])
    devices.check_hardware(t5.hardware, t5.model)
    assert "fp16 with model=t5" in caplog.text and "prefer hardware=bf16" in caplog.text
    with pytest.raises(DialsumError, match="needs a CUDA GPU"):
        devices.check_hardware(compose_cfg(["hardware.precision=bf16"]).hardware)  # hardware=cpu


def test_sweep_needing_more_workers_than_gpu_slots_fails_before_any_trial(tmp_path: Path, cache_dir: Path) -> None:
    result = run_cli(["2", str(ROOT / "train.py"), "-m", "hydra/sweeper=optuna", "hydra/launcher=joblib",
                      "hardware=gpu", "hardware.trials_per_gpu=2", "hydra.sweeper.n_jobs=5",
                      "training.learning_rate=choice(1e-3,3e-3)", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                     tmp_path, cache_dir, script="tests/fake_gpu_host.py")  # a simulated 2-GPU host
    assert result.returncode == 2, result.stderr[-2000:]
    assert "n_jobs=5 is more than the 4 GPU slot(s) available (2 GPU(s) x hardware.trials_per_gpu=2)" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "sweep").exists()


# ---- this run's peaks, not the process's -------------------------------------------------------------
def test_gpu_peak_is_reset_between_two_runs_in_one_process(host: FakeHost, tmp_path: Path) -> None:
    devices.configure(gpu_cfg().hardware, 2, tmp_path)
    resources.begin_run("cuda")
    host.allocate(900)
    first = resources.peak_memory_mb("cuda")["peak_gpu_mb"]
    resources.begin_run("cuda")  # the next trial in the same worker
    host.allocate(100)
    assert (first, resources.peak_memory_mb("cuda")["peak_gpu_mb"]) == (900.0, 100.0)


def test_rss_peak_is_reset_between_two_runs_in_one_process() -> None:
    resources.begin_run("cpu")
    big = bytearray(300 * MB)
    big[:: 4096] = b"\1" * len(big[:: 4096])  # touch every page: resident
    del big
    first = resources.peak_memory_mb("cpu")["peak_rss_mb"]
    resources.begin_run("cpu")
    small = bytearray(30 * MB)
    small[:: 4096] = b"\1" * len(small[:: 4096])
    second = resources.peak_memory_mb("cpu")["peak_rss_mb"]
    assert first - second > 200, (first, second)
    record = resources.run_record("cpu")
    assert record["device"]["type"] == "cpu" and record["started_at"] <= record["finished_at"]


def test_parallel_trials_need_a_launcher_with_worker_processes() -> None:
    class BasicLauncher:  # Hydra's default launcher runs jobs one after the other in the sweeper's process
        pass

    worker_check.check_launcher(BasicLauncher(), 1)
    with pytest.raises(DialsumError, match="n_jobs=2 needs parallel worker processes: add hydra/launcher=joblib"):
        worker_check.check_launcher(BasicLauncher(), 2)
