"""dialsum report: report.html (every plot, plotly.js inlined once) and report.md on finished, running, resumed,
failed-only and multi-objective sweeps (fake sweep folders), plus one real small sweep (slow)."""
from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pytest

from dialsum.analysis.report import PLOT_IDS, build_report
from dialsum.cli import main
from dialsum.errors import DialsumError
from dialsum.sweep.storage import JOURNAL_FILENAME, open_storage
from fake_sweep import DISTRIBUTIONS, FakeTrial, build_fake_sweep, default_trials

os.environ["HF_HUB_OFFLINE"] = "1"
optuna.logging.set_verbosity(optuna.logging.WARNING)
S = optuna.trial.TrialState
PLOTLYJS_MIN_CHARS = 1_000_000   # the inlined plotly.js bundle is several MB; a figure's script is small


class ReportParser(HTMLParser):
    """Collects plot divs (id -> has an <h2>, has a plotly figure), notes and script tags."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: dict[str, dict[str, bool]] = {}
        self.current: str | None = None
        self.depth = 0
        self.script_srcs: list[str] = []
        self.scripts: list[str] = []
        self.in_script = False
        self.in_note = False
        self.notes: dict[str, list[str]] = {}
        self.table_rows: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.in_script = True
            self.scripts.append("")
            if a.get("src"):
                self.script_srcs.append(a["src"] or "")
        if tag == "div":
            if "plot" in (a.get("class") or "").split() and a.get("id"):
                self.current, self.depth = a["id"], 0
                self.plots[self.current] = {"h2": False, "figure": False}
            elif self.current:
                self.depth += 1
                if "plotly-graph-div" in (a.get("class") or ""):
                    self.plots[self.current]["figure"] = True
        if self.current and tag == "h2":
            self.plots[self.current]["h2"] = True
        if self.current and tag == "p" and a.get("class") == "note":
            self.in_note = True
        if self.current and tag == "tr":
            self.table_rows[self.current] = self.table_rows.get(self.current, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False
        if tag == "p":
            self.in_note = False
        if tag == "div" and self.current:
            if self.depth == 0:
                self.current = None
            else:
                self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self.scripts[-1] += data
        if self.in_note and self.current:
            self.notes.setdefault(self.current, []).append(data)


def parse(path: Path) -> ReportParser:
    """Parse a report.html."""
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished sweep: 4 complete, 2 pruned, 1 failed, its report built once."""
    sweep = build_fake_sweep(tmp_path_factory.mktemp("finished"))
    build_report(sweep)
    return sweep


def assert_self_contained(report: ReportParser) -> None:
    """Every plot id with a heading; plotly.js inlined exactly once; nothing loaded from the network."""
    for plot_id in PLOT_IDS:
        assert plot_id in report.plots, f"missing plot div {plot_id}"
        assert report.plots[plot_id]["h2"], f"plot {plot_id} has no <h2>"
    assert not [s for s in report.script_srcs if s.startswith(("http", "//"))]
    assert sum(1 for s in report.scripts if len(s) > PLOTLYJS_MIN_CHARS) == 1


def test_html_has_every_plot_and_embeds_plotlyjs_once(finished: Path) -> None:
    report = parse(finished / "report.html")
    assert_self_contained(report)
    for plot_id in PLOT_IDS[:-1]:
        assert report.plots[plot_id]["figure"], f"{plot_id}: no figure ({report.notes.get(plot_id)})"
    assert report.table_rows["top"] == 1 + 4 + 2  # header, the 4 completed trials, then the 2 pruned ones
    html = (finished / "report.html").read_text(encoding="utf-8")
    assert "could not draw" not in html
    assert "OutOfMemoryError" in html and "eval/rouge1_f1" in html


def test_markdown_is_a_review_draft(finished: Path) -> None:
    md = (finished / "report.md").read_text(encoding="utf-8")
    assert "# Sweep review: fake_study" in md
    assert "4 complete, 2 pruned, 1 failed" in md
    assert "Best: trial 2, eval/rouge_combined_f1 = 0.46" in md
    assert "over the median completed trial: +0.0950" in md
    assert "the first-utterance baseline scores 0.2000 (2.3x)" in md
    assert "| rank | trial |" in md and "eval/rouge2_f1" in md
    rows = [line.split(" | ")[1:3] for line in md.splitlines() if line.startswith("| ") and "PRUNED" in line]
    assert [trial for trial, _ in rows] == ["5", "4"]  # all trials: the pruned ones too, after the completed
    assert "1. training.learning_rate" in md  # the fake objective follows the learning rate
    assert "trial 6: `OutOfMemoryError: CUDA out of memory (fake)`" in md
    assert "python train.py model=t5 debug=fast generation.num_beams=2 training.learning_rate=0.0009" in md
    assert "training.learning_rate=0.0009 is at the high edge" in md
    assert "Status: finished" in md


def test_top_k_limits_the_table_via_cli(finished: Path, tmp_path: Path, capsys) -> None:
    sweep = shutil.copytree(finished, tmp_path / "copy")  # a copied sweep: job folders found relative to it
    main(["report", str(sweep), "--top-k", "2"])
    assert capsys.readouterr().out.split() == [str(sweep / "report.html"), str(sweep / "report.md")]
    report = parse(sweep / "report.html")
    assert report.table_rows["top"] == 1 + 2
    md = (sweep / "report.md").read_text(encoding="utf-8")
    rows = [line for line in md.splitlines() if line.startswith("| ") and ("COMPLETE" in line or "PRUNED" in line)]
    assert len(rows) == 2 and "more not shown (--top-k 2)" in md


def test_a_best_below_the_first_utterance_baseline_is_said_plainly(tmp_path: Path) -> None:
    """User story: the review names the gain over the baseline; a sweep that never beat it must say so."""
    sweep = build_fake_sweep(tmp_path / "sweep")
    best = sweep / "2" / "metrics.json"
    metrics = json.loads(best.read_text(encoding="utf-8"))
    best.write_text(json.dumps({**metrics, "baseline_first_utterance": {"eval/rouge_combined_f1": 0.5}}),
                    encoding="utf-8")
    build_report(sweep)
    md = (sweep / "report.md").read_text(encoding="utf-8")
    assert "The best trial (#2: " in md and "does not beat the first-utterance baseline (0.5)" in md


def test_a_sweep_stopped_by_ctrl_c_says_so_and_how_to_finish(tmp_path: Path) -> None:
    sweep = build_fake_sweep(tmp_path / "sweep")
    summary = json.loads((sweep / "sweep_summary.json").read_text(encoding="utf-8"))
    summary["stopped"] = "stopped by SIGINT; rerun the same command to finish"
    (sweep / "sweep_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    build_report(sweep)
    md = (sweep / "report.md").read_text(encoding="utf-8")
    assert "Status: stopped (stopped by SIGINT; rerun the same command to finish)" in md
    assert "rerun the same command to finish it" in md


def test_a_reused_duplicate_is_named_and_counted_once(tmp_path: Path) -> None:
    """A duplicate shows its source's evaluation, says whose it is, and does not pull the median."""
    trials = default_trials()
    trials.append(FakeTrial(optuna.trial.TrialState.COMPLETE, dict(trials[2].params), [0.46], duplicate_of=2))
    sweep = build_fake_sweep(tmp_path / "sweep", trials=trials)
    build_report(sweep)
    md = (sweep / "report.md").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| ") and "(duplicate of trial 2)" in line)
    assert "0.51" in row                                          # trial 2's eval/rouge1_f1 (0.46 + 0.05)
    assert "over the median completed trial: +0.0950" in md       # as without the duplicate


def test_a_tie_gets_no_edge_advice(tmp_path: Path) -> None:
    """Every trial scored 0: the 'best' is just the first, so its learning rate says nothing about the range."""
    from fake_sweep import _params

    trials = [FakeTrial(optuna.trial.TrialState.COMPLETE, _params(lr, i), [0.0], intermediate={0: 0.0})
              for i, lr in enumerate([1e-3, 1e-5, 1e-4])]
    sweep = build_fake_sweep(tmp_path / "sweep", trials=trials)
    build_report(sweep)
    md = (sweep / "report.md").read_text(encoding="utf-8")
    assert "Every completed trial scored 0" in md and "edge of its range" not in md


def test_running_sweep_without_summary(tmp_path: Path) -> None:
    sweep = build_fake_sweep(tmp_path, n_running=2, with_summary=False)
    html_path, md_path = build_report(sweep)
    report = parse(html_path)
    assert_self_contained(report)
    assert report.plots["workers"]["figure"] and report.plots["timeline"]["figure"]
    md = md_path.read_text(encoding="utf-8")
    assert "Status: running (2 trial(s) in progress)" in md and "2 running" in md


def test_resumed_study_reports_the_whole_study(tmp_path: Path) -> None:
    sweep = build_fake_sweep(tmp_path)
    build_report(sweep)
    study = optuna.load_study(study_name="fake_study", storage=open_storage(str(sweep / JOURNAL_FILENAME)))
    params = {"training.learning_rate": 3e-4, "training.per_device_train_batch_size": 16, "training.warmup_ratio": 0.1}
    study.add_trial(optuna.trial.create_trial(params=params, distributions=DISTRIBUTIONS, value=0.5,
                                              user_attrs={"worker": 0}))
    md = build_report(sweep)[1].read_text(encoding="utf-8")
    assert "5 complete" in md and "Best: trial 7, eval/rouge_combined_f1 = 0.5" in md
    assert "training.learning_rate=0.0003" in md  # rerun command built from params (no job folder)


def test_only_failed_trials_still_write_a_report(tmp_path: Path) -> None:
    trials = [FakeTrial(S.FAIL, t.params, error=f"RuntimeError: boom {i}") for i, t in enumerate(default_trials()[:3])]
    sweep = build_fake_sweep(tmp_path, trials=trials)
    html_path, md_path = build_report(sweep)
    assert_self_contained(parse(html_path))
    md = md_path.read_text(encoding="utf-8")
    assert "No completed trial" in md and "3 failed" in md
    assert "RuntimeError: boom 0" in md and "RuntimeError: boom 2" in md
    assert "fix the first error" in md


def test_only_pruned_trials_point_to_no_failures(tmp_path: Path) -> None:
    trials = [FakeTrial(S.PRUNED, t.params, intermediate={1: 0.1}) for t in default_trials()[:2]]
    md = build_report(build_fake_sweep(tmp_path, trials=trials))[1].read_text(encoding="utf-8")
    assert "No completed trial**: nothing to compare yet." in md and "failures below" not in md
    assert "## Failures (0)" in md


def test_multi_objective_uses_pareto_front(tmp_path: Path) -> None:
    sweep = build_fake_sweep(tmp_path, multi_objective=True)
    html_path, md_path = build_report(sweep)
    report = parse(html_path)
    assert_self_contained(report)
    assert report.plots["history"]["figure"]
    assert "Pareto front" in html_path.read_text(encoding="utf-8")
    md = md_path.read_text(encoding="utf-8")
    assert "eval/rouge_combined_f1 (maximize), peak_rss_mb (minimize)" in md
    assert "Pareto-optimal: trial 2" in md


def test_one_trial_one_param_skips_importance_and_contour_with_a_note(tmp_path: Path) -> None:
    sweep = tmp_path / "tiny"
    study = optuna.create_study(study_name="tiny", storage=open_storage(str(sweep / JOURNAL_FILENAME)),
                                direction="maximize")
    dist = {"training.learning_rate": DISTRIBUTIONS["training.learning_rate"]}
    study.add_trial(optuna.trial.create_trial(params={"training.learning_rate": 1e-4}, distributions=dist, value=0.3))
    report = parse(build_report(sweep)[0])
    assert_self_contained(report)
    assert "at least 2 completed trials" in "".join(report.notes["importance"])
    assert "at least two parameters" in "".join(report.notes["contour"])
    assert not report.plots["importance"]["figure"]


def test_not_a_sweep_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DialsumError, match="does not exist"):
        build_report(tmp_path / "nope")
    with pytest.raises(DialsumError, match="not a sweep folder"):
        build_report(tmp_path)


def test_several_studies_pick_the_folder_name_or_list_them(tmp_path: Path) -> None:
    sweep = tmp_path / "study_b"
    storage = open_storage(str(sweep / JOURNAL_FILENAME))
    for name in ("study_a", "study_b"):
        study = optuna.create_study(study_name=name, storage=storage)
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=1.0))
    assert "# Sweep review: study_b" in build_report(sweep)[1].read_text(encoding="utf-8")
    other = shutil.copytree(sweep, tmp_path / "other")
    with pytest.raises(DialsumError, match="study_a, study_b"):
        build_report(other)


@pytest.mark.slow
def test_report_from_a_real_small_sweep(tmp_path: Path, cache_dir: Path) -> None:
    from conftest import ROOT, run_cli

    sweep = tmp_path / "real"
    proc = run_cli(["-m", "hydra/sweeper=optuna", "debug=fast", "hydra.sweeper.n_trials=3",
                    f"hydra.sweep.dir={sweep}"], cwd=ROOT, cache_dir=cache_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((sweep / "sweep_summary.json").read_text(encoding="utf-8"))
    assert (sweep / "report.html").is_file()  # results.py builds it at the end of the sweep
    html_path, md_path = build_report(sweep)
    assert_self_contained(parse(html_path))
    md = md_path.read_text(encoding="utf-8")
    assert f"# Sweep review: {summary['study_name']}" in md
    assert summary["counts"].get("COMPLETE", 0) >= 1, md
    assert "Best: trial" in md and "python train.py" in md
    conf = shutil.copytree(ROOT / "conf", tmp_path / "conf")  # and the best trial exports to an experiment
    from dialsum.analysis.export import export_best
    from hydra import compose, initialize_config_dir

    export_best(sweep, "real_best", conf_dir=conf)
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=real_best"])
    best = summary["best"][0]["params"]
    assert cfg.training.learning_rate == best["training.learning_rate"]
    assert cfg.data.max_train_samples is None


def test_edge_advice_never_asks_for_values_a_key_cannot_take() -> None:
    """No warmup below 0, no accumulation below 1; a learning rate at its range's low end may go lower."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from dialsum.analysis.report.suggestions import edge_suggestions

    params = {"training.warmup_ratio": 0.005, "training.gradient_accumulation_steps": 1,
              "training.learning_rate": 1.1e-5, "generation.no_repeat_ngram_size": 3}
    dists = {"training.warmup_ratio": FloatDistribution(0.0, 0.3),
             "training.gradient_accumulation_steps": CategoricalDistribution([1, 2, 4]),
             "training.learning_rate": FloatDistribution(1e-5, 1e-3, log=True),
             "generation.no_repeat_ngram_size": IntDistribution(0, 3)}
    trial = optuna.trial.create_trial(params=params, distributions=dists, value=0.4)
    advice = edge_suggestions(trial)
    assert len(advice) == 2, advice
    assert "training.learning_rate=1.1e-05 is at the low edge" in advice[0]
    assert "range int(interval(0, 3)): widen the range upwards" in advice[1]
    same = optuna.trial.create_trial(params={**params, "training.learning_rate": 1.2e-5}, distributions=dists, value=0.3)
    assert len(edge_suggestions(trial, [trial, same])) == 1  # every completed trial had no_repeat_ngram_size=3


def test_failure_advice_follows_the_errors() -> None:
    """Diverged trials were told "out of memory? narrow batch size"."""
    from dialsum.analysis.report.suggestions import failure_hint

    def failed(error: str) -> optuna.trial.FrozenTrial:
        return optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"error": error})

    assert "learning rate" in failure_hint([failed("TrainingDiverged: train loss became nan at step 3; lower ...")])
    assert "batch size" in failure_hint([failed("OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB")])
    assert failure_hint([failed("DialsumError: data file not found")]) == ""


def test_an_interrupted_trial_that_ran_again_is_no_failure(tmp_path: Path) -> None:
    """Ctrl-C (or a dead worker) fails the trial it cut off and the rerun queues its params again: the report
    counted it as a failure and advised reading the errors (out of memory?)."""
    sweep = build_fake_sweep(tmp_path / "sweep")
    study = optuna.load_study(study_name="fake_study", storage=open_storage(str(sweep / JOURNAL_FILENAME)))
    failed = next(t for t in study.trials if t.state == optuna.trial.TrialState.FAIL)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.33,
                                              params=failed.params, distributions=failed.distributions,
                                              user_attrs={"requeued_from": failed.number,
                                                          "requeue_reason": "interrupted"}))
    build_report(sweep)
    md = (sweep / "report.md").read_text(encoding="utf-8")
    assert "5 complete, 2 pruned, 0 failed, 1 cut off (re-queued)" in md, md
    assert "## Failures (0)" in md and "finished trials failed" not in md


def test_a_parameter_every_completed_trial_shared_is_not_ranked() -> None:
    """It got importance 0.111 from Optuna's evaluator though it explained nothing."""
    from dialsum.analysis.report.facts import compute_importances

    study = optuna.create_study(direction="maximize")
    dists = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
             "bs": optuna.distributions.CategoricalDistribution([8, 16, 32])}
    for i in range(8):
        lr = 1e-4 * (i + 1)
        study.add_trial(optuna.trial.create_trial(params={"lr": lr, "bs": 32}, distributions=dists, value=lr * 10))
    importances, note = compute_importances(study, study.trials)
    assert list(importances) == ["lr"] and "Not ranked: bs (one value in every completed trial)" in note
