"""Startup: `python train.py --cfg job` must answer in < 1.5 s.

Compares (median of N runs each, same interpreter, same environment):
  dialsum   python train.py --cfg job      (compose the full config, plugins discovered, print)
  baseline  a minimal Hydra app (temp dir) composing a one-line config, `--cfg job`
Ratio dialsum / baseline = what dialsum adds on top of Hydra itself.

Usage: python benchmarks/bench_startup.py [--repeats 5] [--smoke]
"""
from __future__ import annotations

import sys

from _common import PY, SHARED_CACHE, TRAIN, Bench, median, ratio, repeats_parser

TARGET_S = 1.5
MINIMAL_APP = '''import hydra


@hydra.main(version_base="1.3", config_path=".", config_name="config")
def main(cfg):
    return None


if __name__ == "__main__":
    main()
'''


def main(argv: list[str] | None = None) -> int:
    args = repeats_parser(__doc__, "2 repeats").parse_args(argv)
    repeats = 2 if args.smoke else args.repeats
    bench = Bench("startup", f"`python train.py --cfg job` median < {TARGET_S} s", args.smoke, args.keep)

    app = bench.work / "minimal_app"
    app.mkdir()
    (app / "app.py").write_text(MINIMAL_APP)
    (app / "config.yaml").write_text("x: 1\n")
    commands = {"dialsum": [PY, TRAIN, "--cfg", "job"], "baseline": [PY, str(app / "app.py"), "--cfg", "job"]}
    times: dict[str, list[float]] = {k: [] for k in commands}
    bench.run(commands["dialsum"], SHARED_CACHE)  # warm the OS file cache (.pyc, site-packages); not counted
    for i in range(repeats):  # alternate so a load spike hits both sides alike
        for side, cmd in commands.items():
            seconds, _ = bench.run(cmd, SHARED_CACHE)
            times[side].append(seconds)

    dialsum, base = median(times["dialsum"]), median(times["baseline"])
    rows = [("dialsum median s", dialsum), ("minimal Hydra app median s", base),
            ("ratio dialsum/baseline", ratio(dialsum, base)), ("dialsum runs s", [round(t, 3) for t in times["dialsum"]]),
            ("baseline runs s", [round(t, 3) for t in times["baseline"]])]
    return bench.finish(rows, dialsum < TARGET_S, {"dialsum_s": times["dialsum"], "baseline_s": times["baseline"],
                                                   "dialsum_median_s": dialsum, "baseline_median_s": base,
                                                   "ratio": ratio(dialsum, base), "repeats": repeats})


if __name__ == "__main__":
    sys.exit(main())
