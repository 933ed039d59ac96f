"""The Ray Tune side of bench_ray_tune.py, run as its own process (so its wall time includes start-up and
`ray.init`, like `python train.py -m` on dialsum's side).

`Tuner` + `OptunaSearch` (TPE with dialsum's settings: n_startup_trials, multivariate, constant liar, seed) +
`ASHAScheduler` (`max_concurrent_trials` = n_jobs) or `HyperBandScheduler` (no such limit, see
`max_concurrent`; checkpoints, so a paused trial resumes from dialsum's HF checkpoint instead of step 0),
`tune.with_resources(fn, {"cpu": 1})` (so n_jobs trials run at once on either),
Ray local and offline (`ray.init(num_cpus=n_jobs, include_dashboard=False)`). The trainable runs dialsum's own
training (`dialsum.engine.run.train`) on the config `train.py` would compose from the same overrides, and reports
`tune.report` at every evaluation through a Trainer callback put where dialsum's Optuna bridge sits
(`_trial_bridge`, patched in the Ray worker only: the one place this benchmark reaches into dialsum).
Each trial writes its own record (params, evaluations with global_step and time) under --work/records/.

Usage (by bench_ray_tune.py): python benchmarks/_ray_side.py SPEC.json OUT.json
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
POINTER = "dialsum_resume.json"  # in a Ray checkpoint: where the paused trial's HF checkpoint is


def trainable(config: dict[str, Any], spec: dict[str, Any]) -> None:
    """One Ray trial = one dialsum training run; reports the objective at every evaluation."""
    from hydra import compose, initialize_config_dir
    from ray import tune

    from dialsum.engine import run as engine_run
    from dialsum.engine.metric_names import trainer_key

    resume = resume_point(spec)
    record_path, record, out_dir = open_record(config, spec, resume)
    overrides = [*spec["base"], *(f"{k}={v}" for k, v in config.items()), f"trial.n_workers={spec['n_jobs']}",
                 f"paths.cache_dir={spec['cache']}"]
    if resume:
        overrides.append(f"training.resume_from_checkpoint='{resume['hf_checkpoint']}'")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    segment = {"started": time.time(), "from_step": resume["step"] if resume else 0}
    record["segments"].append(segment)
    bridge = tune_report(spec, record, record_path, segment, out_dir, "eval_" + trainer_key(cfg.objective.metric))
    engine_run._trial_bridge = lambda cfg: bridge  # dialsum's Optuna bridge slot, in this Ray worker only
    engine_run.train(cfg, out_dir)
    segment["ended"] = time.time()
    record_path.write_text(json.dumps(record))
    if bridge.final is not None:
        tune.report(bridge.final)


def open_record(config: dict[str, Any], spec: dict[str, Any],
                resume: dict[str, Any] | None) -> tuple[Path, dict[str, Any], Path]:
    """The trial's record (reopened when it resumes), its path and its run folder."""
    from ray import tune

    if resume:
        record_path = Path(resume["record"])
        return record_path, json.loads(record_path.read_text()), Path(resume["run_dir"])
    trial_id = tune.get_context().get_trial_id()
    record_path = Path(spec["work"]) / "records" / f"{trial_id}-{uuid.uuid4().hex[:6]}.json"
    record = {"trial_id": trial_id, "params": config, "entered": time.time(), "evals": [], "pid": os.getpid(),
              "segments": []}
    return record_path, record, Path(spec["work"]) / "runs" / record_path.stem


def tune_report(spec: dict[str, Any], record: dict[str, Any], record_path: Path, segment: dict[str, Any],
                out_dir: Path, key: str) -> Any:
    """The Trainer callback that reports to Ray where dialsum's Optuna bridge would report to Optuna."""
    from ray import tune
    from transformers import TrainerCallback

    class TuneReport(TrainerCallback):
        """tune.report per evaluation; Ray's scheduler stops a trial by not resuming it after a report.

        With checkpoints (HyperBand pauses trials) the report comes at the save that follows the evaluation,
        carrying a pointer to the HF checkpoint just written, so a paused trial resumes instead of starting over.
        The last evaluation is reported after `train` returns: Ray ends a trial at its max_t-th report, which
        would cut the run's own end (best-model scoring, run folder) that dialsum's trials do."""
        pruned, pending, final = False, None, None

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            value = (metrics or {}).get(key)
            if value is None:
                return control
            record["evals"].append({"step": state.global_step, "value": float(value), "t": time.time()})
            segment["steps"], segment["last_t"] = state.global_step - segment["from_step"], time.time()
            record_path.write_text(json.dumps(record))
            result = {"objective": float(value), "global_step": state.global_step,
                      "evals": state.global_step // args.eval_steps}
            if state.global_step >= state.max_steps:
                self.final = result
            elif spec.get("checkpoint"):
                self.pending = result
            else:
                tune.report(result)
            return control

        def on_save(self, args, state, control, **kwargs):
            if self.pending is None:
                return control
            result, self.pending = self.pending, None
            pointer = {"record": str(record_path), "run_dir": str(out_dir), "step": state.global_step,
                       "hf_checkpoint": str(Path(args.output_dir) / f"checkpoint-{state.global_step}")}
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / POINTER).write_text(json.dumps(pointer))
                tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))
            return control

    return TuneReport()


def resume_point(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The pointer in Ray's checkpoint of a paused trial (record, run folder, HF checkpoint), or None."""
    from ray import tune

    checkpoint = tune.get_checkpoint() if spec.get("checkpoint") else None
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        return json.loads((Path(folder) / POINTER).read_text())


def scheduler(spec: dict[str, Any]) -> Any:
    """ASHA (Ray's default early stopping) or synchronous HyperBand, on the evaluation count like dialsum's."""
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler

    if spec["scheduler"] == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=spec["max_t"], grace_period=spec["grace_period"],
                             reduction_factor=spec["reduction_factor"])
    return HyperBandScheduler(time_attr="training_iteration", max_t=spec["max_t"],
                              reduction_factor=spec["reduction_factor"])


def max_concurrent(spec: dict[str, Any]) -> int | None:
    """n_jobs for ASHA (TPE then sees results before it suggests); none for synchronous HyperBand, whose brackets
    act only once all their trials reached a rung: under `max_concurrent_trials` = 2 Ray's HyperBandScheduler
    stopped no trial at all (probe 2026-11-27: 8 and 17 trials, max_t 6, eta 3: every trial ran 6 iterations;
    without the limit it stopped 3 of 8 at iteration 2). The {"cpu": 1} resources keep n_jobs trials running."""
    return spec["n_jobs"] if spec["scheduler"] == "asha" else None


def step_budget_search(sampler: Any, budget: int) -> Any:
    """OptunaSearch that suggests no new trial once the trials' summed training steps reach `budget`: dialsum's
    `hydra.sweeper.budget.steps` (running trials finish, they are not cut). Written by hand: Ray's stoppers end
    running trials too (`stop_all`), and no kept library counts steps across a Tune experiment."""
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    class StepBudgetSearch(OptunaSearch):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.last: dict[str, int] = {}  # trial id -> global_step of its last report
            self.spent = 0                  # steps trained by all trials, restarts included

        def suggest(self, trial_id: str) -> Any:
            return Searcher.FINISHED if self.spent >= budget else super().suggest(trial_id)

        def count(self, trial_id: str, result: dict | None) -> None:
            """A paused trial without a checkpoint restarts from step 0 (HyperBand): its new steps count too."""
            if not result or result.get("global_step") is None:
                return
            step, last = int(result["global_step"]), self.last.get(trial_id, 0)
            self.spent += step if step < last else step - last
            self.last[trial_id] = step

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            self.count(trial_id, result)
            super().on_trial_result(trial_id, result)

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            self.count(trial_id, result)
            super().on_trial_complete(trial_id, result=result, error=error)

    return StepBudgetSearch(sampler=sampler)


def main(spec_path: str, out_path: str) -> int:
    """Run the Ray Tune study described by the spec; write timings and trial records."""
    started = time.time()
    import optuna
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    spec = json.loads(Path(spec_path).read_text())
    (Path(spec["work"]) / "records").mkdir(parents=True, exist_ok=True)
    ray.init(num_cpus=spec["n_jobs"], include_dashboard=False, log_to_driver=False, configure_logging=False)
    init_done = time.time()
    sampler = optuna.samplers.TPESampler(seed=spec["seed"], n_startup_trials=spec["n_startup_trials"],
                                         multivariate=True, constant_liar=True)
    space = {name: tune.choice(values) for name, values in spec["space"].items()}
    search = (step_budget_search(sampler, int(spec["step_budget"])) if spec.get("step_budget")
              else OptunaSearch(sampler=sampler))
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, spec=spec), {"cpu": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(metric="objective", mode="max", search_alg=search,
                                    scheduler=scheduler(spec), num_samples=spec["n_trials"],
                                    max_concurrent_trials=max_concurrent(spec)),
        run_config=tune.RunConfig(storage_path=str(Path(spec["work"]) / "ray_results"), name="study", verbose=0))
    results = tuner.fit()
    fit_done = time.time()
    errors = [str(r.error)[-500:] for r in results if r.error]
    ray.shutdown()
    records = [json.loads(p.read_text()) for p in sorted((Path(spec["work"]) / "records").glob("*.json"))]
    out = {"init_s": round(init_done - started, 2), "fit_s": round(fit_done - init_done, 2),
           "process_s": round(time.time() - started, 2), "errors": errors, "records": records,
           "n_results": len(results)}
    Path(out_path).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
