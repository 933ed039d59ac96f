"""dialsum's real config and Optuna sweeper with a fake job: sweeper tests in seconds, no training.

The job's behaviour comes from environment variables (FAKE_*), so one app serves every sweeper test:
FAKE_SLEEP (seconds per job, in small steps that notice a sweep stop), FAKE_FAIL_LR (a learning rate that
raises), FAKE_KILL_ONCE (a marker path: the first job to see it missing creates it and SIGKILLs its own
process, like the OS killing a worker for memory), FAKE_KILL_LR (every job at this learning rate
SIGKILLs its process), FAKE_LOG (a file each job appends its params to), FAKE_REPORT (report the value at step 0 through
dialsum's pruning bridge, when dialsum would attach one; with FAKE_PRUNE also ask the pruner and end
pruned like a training job), FAKE_LONG_ONCE (a marker path: the first job writes its pid and trial number
there and sleeps FAKE_LONG_S instead of FAKE_SLEEP), FAKE_TIMES (a file each job appends its start and end time to). Sweeper-side faults, patched in this process:
FAKE_TELL_ERROR / FAKE_ASK_ERROR (the N-th Study.tell / Study.ask raises ValueError / OperationalError-like
errors), FAKE_PASSWORD_DB (a sqlite file that serves any storage URL with a password, standing in for
PostgreSQL: the test is about where the password is written, not about the database).
"""
from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def _fail_nth(owner: type, name: str, env: str, error: type[Exception]) -> None:
    """Make the N-th call of owner.name raise (N from the environment), to test the sweeper's recovery."""
    nth = int(os.environ.get(env, "0"))
    if not nth:
        return
    original, calls = getattr(owner, name), {"n": 0}

    def wrapped(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            raise error(f"fake {name} error (call {nth})")
        return original(self, *args, **kwargs)

    setattr(owner, name, wrapped)


def _patch_sweeper_side() -> None:
    """Faults and the stand-in password database, before the sweeper imports anything."""
    import optuna

    from dialsum.sweep import storage

    _fail_nth(optuna.Study, "tell", "FAKE_TELL_ERROR", ValueError)
    _fail_nth(optuna.Study, "ask", "FAKE_ASK_ERROR", ConnectionError)
    db = os.environ.get("FAKE_PASSWORD_DB")
    if db:
        real_open = storage.open_storage

        def open_storage(url: str, heartbeat=None):
            url = storage.unmask_url(url)
            return real_open(f"sqlite:///{db}" if storage.password(url) else url, heartbeat)

        storage.open_storage = open_storage


def objective(cfg: DictConfig) -> float:
    """A smooth function of the swept params: best near lr=3e-3, larger batches slightly better."""
    lr = float(cfg.training.learning_rate)
    return round(1.0 - abs(math.log10(lr) + 2.5) / 3 + int(cfg.training.per_device_train_batch_size) / 1000, 6)


def _create_once(path: str) -> bool:
    """Create the file atomically; True only for the one process that created it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _log_time(event: str, cfg: DictConfig) -> None:
    """FAKE_TIMES: when each job started and ended (tests that jobs overlap, without a batch barrier)."""
    if os.environ.get("FAKE_TIMES"):
        with open(os.environ["FAKE_TIMES"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "number": cfg.trial.number, "t": time.time(), "pid": os.getpid(),
                                "lr": float(cfg.training.learning_rate)}) + "\n")


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """The fake job: sleep (interruptibly), maybe fail or die, write metrics.json, return the objective."""
    from dialsum.sweep import interrupt

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    _log_time("start", cfg)
    if os.environ.get("FAKE_LOG"):
        with open(os.environ["FAKE_LOG"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"lr": float(cfg.training.learning_rate), "pid": os.getpid(),
                                "number": cfg.trial.number, "t": time.time()}) + "\n")
    kill_marker = os.environ.get("FAKE_KILL_ONCE")
    if kill_marker and not Path(kill_marker).exists():
        Path(kill_marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("FAKE_KILL_LR") and float(os.environ["FAKE_KILL_LR"]) == float(cfg.training.learning_rate):
        os.kill(os.getpid(), signal.SIGKILL)  # dies at this learning rate every time (a deterministic OOM kill)
    seconds = float(os.environ.get("FAKE_SLEEP", "0"))
    long_marker = os.environ.get("FAKE_LONG_ONCE")  # the first job to create this marker sleeps FAKE_LONG_S
    if long_marker and _create_once(long_marker):
        Path(long_marker).write_text(json.dumps({"pid": os.getpid(), "number": cfg.trial.number}))
        seconds = float(os.environ.get("FAKE_LONG_S", "10"))
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not os.environ.get("FAKE_SLOW_STOP"):  # FAKE_SLOW_STOP: a long step that ignores the stop
            interrupt.raise_if_stopping()  # what dialsum's StopOnSweepInterrupt callback does between steps
        time.sleep(0.05)
    if os.environ.get("FAKE_FAIL_LR") and float(os.environ["FAKE_FAIL_LR"]) == float(cfg.training.learning_rate):
        raise ValueError("fake training error at this learning rate")
    value = objective(cfg)
    metrics = {"objective": {"metric": cfg.objective.metric, "value": value},
               "best": {"eval/rouge_combined_f1": value, "eval/loss": 3.0 - value}, "peak_rss_mb": 100.0}
    if os.environ.get("FAKE_STEPS"):  # the training steps a real job writes (hydra.sweeper.budget.steps)
        metrics["global_step"] = int(os.environ["FAKE_STEPS"])
    (out_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    metric = cfg.objective.metric
    if os.environ.get("FAKE_REPORT"):  # report like a training job does, through dialsum's own bridge set-up
        from dialsum.engine.run import _trial_bridge

        bridge = _trial_bridge(cfg)
        if bridge is not None:
            bridge.trial.report(metrics["best"].get(metric, value), step=0)
            if os.environ.get("FAKE_PRUNE") and bridge.trial.should_prune():
                import optuna

                _log_time("pruned", cfg)
                raise optuna.TrialPruned("pruned at step 0")
    _log_time("end", cfg)
    return metrics["best"][metric] if metric in metrics["best"] else value


if __name__ == "__main__":
    _patch_sweeper_side()
    main()
