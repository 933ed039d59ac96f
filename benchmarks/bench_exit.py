"""Process exit: what `dialsum.fast_exit` saves at the end of every run and every sweep worker process.

Both sides run the same `train.py debug=fast` job in a fresh interpreter (a wrapper runs train.py with runpy and
prints the moment its main returned); exit = from that moment until the parent sees the process end (atexit
hooks, interpreter shutdown). The baseline replaces `fast_exit.install` with a no-op before train.py starts, so
the only difference is the gc.freeze() at exit. Sides alternate; medians of N runs each.

Usage: python benchmarks/bench_exit.py [--repeats 5] [--smoke]
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from _common import BASE_ENV, PY, ROOT, SHARED_CACHE, TRAIN, Bench, median, ratio, repeats_parser

WRAPPER = """import runpy, sys, time
if sys.argv[1] == "baseline":
    import dialsum.fast_exit
    dialsum.fast_exit.install = lambda: None
sys.argv = sys.argv[2:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print(f"MAIN_RETURNED {time.time():.6f}", flush=True)
"""


def one_run(bench: Bench, side: str, index: int) -> float:
    """Seconds from train.py's main returning to the process being gone."""
    args = [PY, "-c", WRAPPER, side, TRAIN, "debug=fast", f"hydra.run.dir={bench.work / f'{side}_{index}'}"]
    env = {**os.environ, **BASE_ENV, "DIALSUM_CACHE": str(SHARED_CACHE)}
    bench.commands.append(f"({side}) " + " ".join(args[3:]))
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    ended = time.time()
    marks = [line for line in proc.stdout.splitlines() if line.startswith("MAIN_RETURNED ")]
    if proc.returncode != 0 or not marks:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"exit: the {side} run failed (exit {proc.returncode})")
    seconds = ended - float(marks[-1].split()[1])
    print(f"  {side} run {index}: exit {seconds:.3f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    args = repeats_parser(__doc__).parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    bench = Bench("exit", "process exit after a train.py run: fast_exit vs the interpreter's default (measured)",
                  args.smoke, args.keep)
    bench.train(["debug=fast", f"hydra.run.dir={bench.work / 'warmup'}"], SHARED_CACHE)  # caches; not counted
    times: dict[str, list[float]] = {"dialsum": [], "baseline": []}
    load_before = os.getloadavg()[0]
    for i in range(repeats):
        for side in times:
            times[side].append(one_run(bench, side, i))
    dialsum, base = median(times["dialsum"]), median(times["baseline"])
    rows = [("exit s, fast_exit (median)", dialsum), ("exit s, default shutdown (median)", base),
            ("saved per process s", round(base - dialsum, 3)), ("ratio default/fast_exit", ratio(base, dialsum)),
            ("runs s fast_exit", [round(t, 3) for t in times["dialsum"]]),
            ("runs s default", [round(t, 3) for t in times["baseline"]]),
            ("1-min load average before / after", f"{load_before:.2f} / {os.getloadavg()[0]:.2f}")]
    return bench.finish(rows, dialsum < base, {"dialsum_s": times["dialsum"], "baseline_s": times["baseline"],
                                               "dialsum_median_s": dialsum, "baseline_median_s": base,
                                               "saved_s": base - dialsum, "repeats": repeats})


if __name__ == "__main__":
    sys.exit(main())
