"""`dialsum <command>`: helper commands around runs and sweeps (report, dashboard, export-best, status, doctor,
compare, import-wandb, data). report, dashboard, export-best and status take a sweep folder or a storage URL."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from dialsum.errors import USER_ERROR_EXIT, DialsumError


def _parser() -> argparse.ArgumentParser:
    """All sub-commands; each one's implementation is imported only when it runs."""
    parser = argparse.ArgumentParser(prog="dialsum", description="Helpers around dialsum runs and sweeps.")
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="write report.html + report.md for a sweep folder or storage URL")
    _target(report)
    report.add_argument("--top-k", type=int, default=None, help="trials in the trials table (default: all)")
    report.add_argument("--out", type=Path, default=None, help="folder for the report (default: the sweep folder)")

    dash = sub.add_parser("dashboard", help="serve optuna-dashboard on a sweep's storage")
    _target(dash)
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8080)

    export = sub.add_parser("export-best", help="write conf/experiment/NAME.yaml from a sweep's best trial")
    _target(export)
    export.add_argument("--name", required=True)
    export.add_argument("--conf-dir", type=Path, default=Path("conf"))
    export.add_argument("--full-data", action=argparse.BooleanOptionalAction, default=True,
                        help="drop sample caps / debug limits so the rerun uses the full data")

    status = sub.add_parser("status", help="a sweep's state in the terminal: counts, best, running, ETA, failures")
    _target(status)
    status.add_argument("--watch", type=float, default=None, metavar="SECONDS", help="redraw every SECONDS")
    status.add_argument("--n-trials", type=int, default=None, help="planned trials, when the study does not say")

    doctor = sub.add_parser("doctor", help="preflight checks before a long run (takes train.py's overrides)")
    doctor.add_argument("overrides", nargs="*", help="as for train.py, e.g. data=dialogsum_ko hardware=gpu")
    doctor.add_argument("--quick", action="store_true", help="also run experiment=quick_test end to end")
    doctor.add_argument("-m", "--multirun", action="store_true",
                        help="as for train.py -m (sweep values are checked as a search space either way)")
    doctor.add_argument("--conf-dir", type=Path, default=None, help="config folder (default: ./conf)")

    compare = sub.add_parser("compare", help="multi-seed model comparison of a multirun folder")
    compare.add_argument("multirun_dir", type=Path)
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level")
    compare.add_argument("--n-resamples", type=int, default=10000, help="bootstrap/permutation resamples")

    wandb = sub.add_parser("import-wandb", help="W&B sweep YAML -> conf/sweep/NAME.yaml (run offline with -m sweep=NAME)")
    wandb.add_argument("sweep_file", type=Path)
    wandb.add_argument("--name", required=True, help="the sweep preset's name")
    wandb.add_argument("--conf-dir", type=Path, default=Path("conf"))
    wandb.add_argument("--force", action="store_true", help="replace an existing conf/sweep/NAME.yaml")

    data = sub.add_parser("data", help="write the synthetic dataset to a folder")
    data.add_argument("out_dir", type=Path)
    data.add_argument("--train", type=int, default=2000)
    data.add_argument("--val", type=int, default=240)
    data.add_argument("--test", type=int, default=200)
    data.add_argument("--seed", type=int, default=1234)
    return parser


def _target(sub: argparse.ArgumentParser) -> None:
    """A sweep folder or a storage URL, and which study of it."""
    sub.add_argument("sweep_dir", metavar="SWEEP", help="a sweep folder (multirun/<study>) or a storage URL "
                     "(postgresql://..., sqlite:///x.db, a journal file); a masked password comes from $DIALSUM_STORAGE")
    sub.add_argument("--study", default=None, help="the study, when the storage holds several")


def main(argv: list[str] | None = None) -> None:
    """Dispatch; user errors print one line and exit 2."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "report":
            from dialsum.analysis.report import build_report

            for path in build_report(args.sweep_dir, top_k=args.top_k, study_name=args.study, out_dir=args.out):
                print(path)
        elif args.command == "dashboard":
            from dialsum.analysis.dashboard import serve

            serve(args.sweep_dir, host=args.host, port=args.port, study_name=args.study)
        elif args.command == "export-best":
            from dialsum.analysis.export import export_best

            print(export_best(args.sweep_dir, args.name, conf_dir=args.conf_dir, full_data=args.full_data,
                              study_name=args.study))
        elif args.command == "status":
            from dialsum.analysis.status import status_text, watch

            if args.watch is None:
                print(status_text(args.sweep_dir, args.study, args.n_trials))
            else:
                watch(args.sweep_dir, args.watch, args.study, args.n_trials)
        elif args.command == "doctor":
            from dialsum.doctor import run_doctor

            sys.exit(run_doctor(args.overrides, quick=args.quick, conf_dir=args.conf_dir))
        elif args.command == "compare":
            from dialsum.analysis.compare import compare

            for path in compare(args.multirun_dir, alpha=args.alpha, n_resamples=args.n_resamples):
                print(path)
        elif args.command == "import-wandb":
            from dialsum.sweep.wandb_import import import_wandb

            out, notes = import_wandb(args.sweep_file, args.name, args.conf_dir, force=args.force)
            for note in notes:
                print(f"note: {note}")
            own = Path(args.conf_dir).resolve() == (Path.cwd() / "conf").resolve()  # train.py reads ./conf
            where = "" if own else f"--config-dir {shlex.quote(str(Path(args.conf_dir).resolve()))} "
            print(f"wrote {out}; run it with: python train.py {where}-m sweep={args.name}")
        elif args.command == "data":
            from dialsum.data.synthetic import write_splits

            sizes = {"train": args.train, "val": args.val, "test": args.test}
            for path in write_splits(args.out_dir, sizes, args.seed).values():
                print(path)
    except DialsumError as err:
        print(f"dialsum: error: {err}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
