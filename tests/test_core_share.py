"""The sweep's tail: a worker with nothing to run lends its cores to the trials still running on this machine."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import run_cli
from dialsum.sweep.core_share import CoreShare, FollowCoreShare


def _read(share: CoreShare) -> int:
    assert share.path is not None
    return int(share.path.read_text())


def test_idle_workers_are_counted_out_and_back_in(tmp_path: Path) -> None:
    share = CoreShare(tmp_path, 3, enabled=True, launcher_target="hydra_plugins.hydra_joblib_launcher.JoblibLauncher")
    assert _read(share) == 3
    share.set_idle(0, True)
    share.set_idle(0, True)  # waiting again: still one idle worker
    assert _read(share) == 2
    share.set_idle(1, True)
    assert _read(share) == 1
    share.set_idle(0, False)  # a re-queued trial came back: worker 0 takes its cores back
    assert _read(share) == 2
    share.set_idle(0, True)
    share.set_idle(2, True)  # everyone idle: the last count stays (no trial runs to read it)
    assert _read(share) == 1
    share.close()
    assert not share.path.exists()


def test_two_sweepers_on_a_host_with_a_dotted_name_write_their_own_files(tmp_path: Path, monkeypatch) -> None:
    """`node3.cluster.local-<pid>`: a temp name from the path's suffix (`node3.cluster.tmp`) was shared by both
    sweepers, and one's rename could take the other's file; every write now has its own temp file."""
    from dialsum.sweep import core_share

    renamed, real_replace = [], os.replace

    def recording_replace(src, dst):
        renamed.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(core_share.socket, "gethostname", lambda: "node3.cluster.local")
    monkeypatch.setattr(os, "replace", recording_replace)
    joblib = "hydra_plugins.hydra_joblib_launcher.JoblibLauncher"
    first = CoreShare(tmp_path, 2, enabled=True, launcher_target=joblib)
    monkeypatch.setattr(core_share.os, "getpid", lambda: 999999)
    second = CoreShare(tmp_path, 3, enabled=True, launcher_target=joblib)
    first.set_idle(0, True)
    second.set_idle(1, True)
    assert (_read(first), _read(second)) == (1, 2)
    assert len(renamed) == 4 and len(set(renamed)) == 4, renamed


@pytest.mark.parametrize("n_jobs,enabled,target", [
    (1, True, "hydra_plugins.hydra_joblib_launcher.JoblibLauncher"),
    (2, False, "hydra_plugins.hydra_joblib_launcher.JoblibLauncher"),
    (2, True, "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"),
])
def test_no_share_where_nothing_can_be_lent(tmp_path: Path, n_jobs: int, enabled: bool, target: str) -> None:
    share = CoreShare(tmp_path, n_jobs, enabled, target)
    share.set_idle(0, True)
    assert share.path is None and not any(tmp_path.iterdir())


@pytest.fixture
def follow(tmp_path: Path, monkeypatch):
    """A job's follower on a 4-core machine, starting at 2 threads; torch's threads restored afterwards."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    (tmp_path / "share").write_text("2\n")
    yield FollowCoreShare(str(tmp_path / "share"))
    torch.set_num_threads(before)


def test_generation_borrows_the_idle_cores_and_gives_them_back(follow: FollowCoreShare) -> None:
    with follow.lent() as threads:  # 4 cores / 2 workers working: nothing to lend
        assert threads == 2 and torch.get_num_threads() == 2
    follow.path.write_text("1\n")  # the other worker has no trial left
    with follow.lent() as threads:
        assert threads == 4 and torch.get_num_threads() == 4
    assert torch.get_num_threads() == 2  # training goes on with the trial's own count
    follow.path.unlink()  # the sweep ended: nothing to read, nothing lent
    with follow.lent() as threads:
        assert threads == 2


def test_a_share_below_the_trials_own_threads_never_takes_its_cores(follow: FollowCoreShare) -> None:
    follow.path.write_text("4\n")  # more workers than the trial started with: keep its own 2
    with follow.lent() as threads:
        assert threads == 2 and torch.get_num_threads() == 2


def test_threads_come_back_when_generation_fails(follow: FollowCoreShare) -> None:
    follow.path.write_text("1\n")
    with pytest.raises(RuntimeError), follow.lent():
        raise RuntimeError("out of memory")
    assert torch.get_num_threads() == 2


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to lend one")
def test_the_last_trial_takes_the_finished_workers_cores(tmp_path: Path, cache_dir: Path) -> None:
    """n_jobs=2, a 2-step and a 200-step trial: once the short one is told, its worker waits (the budget is full
    of running trials) and the long trial generates on all cores; the file is gone afterwards."""
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(["-m", "debug=fast", "hydra/sweeper=optuna", "hydra/launcher=joblib", "hydra.sweeper.n_jobs=2",
                    "hydra.launcher.n_jobs=2", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.name=grid",
                    "hydra.sweeper.pruner.name=none", "training.max_steps=choice(2,200)",
                    "training.learning_rate=choice(1e-3)", "training.eval_steps=200",
                    "training.save_steps=200", f"hydra.sweep.dir={sweep_dir}"], tmp_path, cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = {d: OmegaConf.load(d / ".hydra" / "config.yaml").training.max_steps for d in sweep_dir.glob("[0-9]*")}
    long_dir = next(d for d, n in steps.items() if n == 200)
    short_dir = next(d for d, n in steps.items() if n == 2)
    assert f"evaluation on {os.cpu_count()} torch thread(s)" in (long_dir / "train.log").read_text()
    assert "lend their cores" not in (short_dir / "train.log").read_text()
    assert not list((sweep_dir / ".dialsum_cores").iterdir())


@pytest.mark.slow  # ~20 s: two sweeps
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to lend one")
def test_lent_cores_never_change_what_a_trial_trains(tmp_path: Path, cache_dir: Path) -> None:
    """The same trial, once with its sweep's other worker idle (its core lent) and once without: the trained
    weights and losses are identical to the bit (torch's CPU LayerNorm backward sums per thread, so training must
    keep its thread count), and the lent core did serve the evaluations."""
    share = tmp_path / "share"
    share.write_text("1\n")  # of 2 workers, only this trial's is working
    runs = {}
    for name, extra in {"lent": [f"trial.cpu_share={share}"], "alone": []}.items():
        proc = run_cli(["debug=fast", "trial.n_workers=2", "artifacts.save_model=true", "training.max_steps=6",
                        f"hydra.run.dir={tmp_path / name}", *extra], tmp_path, cache_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = tmp_path / name
    weights = {n: (d / "model" / "model.safetensors").read_bytes() for n, d in runs.items()}
    losses = {n: [r for r in (d / "metrics.csv").read_text().splitlines() if "/loss" in r] for n, d in runs.items()}
    assert losses["lent"] and losses["lent"] == losses["alone"]
    assert weights["lent"] == weights["alone"]
    assert f"evaluation on {os.cpu_count()} torch thread(s)" in (runs["lent"] / "train.log").read_text()
