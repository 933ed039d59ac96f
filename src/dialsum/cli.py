"""`dialsum <command>`: helper commands around runs and sweeps."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    """Dispatch a sub-command."""
    parser = argparse.ArgumentParser(prog="dialsum", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="write the synthetic dataset to a folder")
    data.add_argument("out_dir")
    data.add_argument("--train", type=int, default=2000)
    data.add_argument("--val", type=int, default=240)
    data.add_argument("--test", type=int, default=200)
    data.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    if args.command == "data":
        from pathlib import Path

        from dialsum.data.synthetic import write_splits

        paths = write_splits(Path(args.out_dir), {"train": args.train, "val": args.val, "test": args.test}, args.seed)
        print("\n".join(str(p) for p in paths.values()))
    sys.exit(0)
