"""Worker start-up: where a sweep worker process's one-time first-trial cost goes, and what overlapping saves.

A sweep worker (loky process, or the sweeper's own process with n_jobs=1) pays once, on its first trial:
importing the job's stack (torch, transformers' Trainer, dialsum's engine) and the morpheme ROUGE
(rouge-score -> nltk -> scipy.stats, then building and warming Kiwi). bench_overhead.py measured the total
(~5.4 s first-trial start-up). Here each part is timed in fresh processes (alternating, median of N):
  python      `python -c pass` (the interpreter alone; subtracted from nothing, printed for scale)
  imports     the job's imports only
  kiwi        dialsum.metrics.rouge import + get_kiwi() only
  sequential  imports, then rouge + Kiwi in the same thread (what a job would pay without the prefetch)
  background  rouge + Kiwi in a thread started first, imports in the main thread, then join (what
              a job start-up prefetch thread would do; dialsum had one and dropped it after this measurement)
  gil         the main thread's CPU share while another thread builds Kiwi (~0: Kiwi holds the GIL, so a
              background build cannot overlap with Python work such as imports)
  no_multi_dict  Kiwi(load_multi_dict=False): the multi-word dictionary's share of the build (informative
              only: without it 6 of 798 dev texts tokenize differently, so the metric would change)
Target: the background start-up is at most 0.8 x the sequential one (the overlap must actually save time; on a
loaded machine it cannot, since the two threads then compete for the same busy cores: the load is printed).

Usage: python benchmarks/bench_worker_startup.py [--repeats 5] [--smoke]
"""
from __future__ import annotations

import json
import sys

from _common import PY, Bench, median, ratio, repeats_parser

TARGET = 0.8  # background / sequential at most this
PROBE = r'''
import json, sys, threading, time
t0 = time.perf_counter()
out = {}

def imports():
    s = time.perf_counter()
    import torch  # noqa: F401
    from transformers import Seq2SeqTrainer  # noqa: F401
    import dialsum.engine.run, dialsum.engine.trainer, dialsum.models.builder, dialsum.data.features  # noqa: F401,E401
    out["imports_s"] = time.perf_counter() - s

def kiwi():
    s = time.perf_counter()
    from dialsum.metrics.rouge import get_kiwi
    out["rouge_import_s"] = time.perf_counter() - s
    get_kiwi()
    out["kiwi_s"] = time.perf_counter() - s

mode = sys.argv[1]
if mode == "imports":
    imports()
elif mode == "kiwi":
    kiwi()
elif mode == "sequential":
    imports(); kiwi()
elif mode == "background":
    th = threading.Thread(target=kiwi); th.start(); imports(); th.join()
elif mode == "gil":  # main-thread CPU while another thread builds Kiwi: ~0 means Kiwi holds the GIL
    from dialsum.metrics.rouge import _protected_spans  # noqa: F401  (rouge/nltk import outside the window)
    from kiwipiepy import Kiwi
    th = threading.Thread(target=lambda: Kiwi().tokenize("#Person1#은 워밍업 문장입니다.")); c0 = time.thread_time()
    s = time.perf_counter(); th.start()
    while th.is_alive():
        pass
    out["main_cpu_share"] = (time.thread_time() - c0) / (time.perf_counter() - s)
elif mode == "no_multi_dict":  # what the multi-word dictionary costs (it changes some tokens: not cut)
    from kiwipiepy import Kiwi
    s = time.perf_counter(); Kiwi(load_multi_dict=False).tokenize("#Person1#은 워밍업 문장입니다.")
    out["kiwi_s"] = time.perf_counter() - s
out["total_s"] = time.perf_counter() - t0
print("PROBE " + json.dumps(out))
'''
MODES = ("python", "imports", "kiwi", "sequential", "background", "gil", "no_multi_dict")


def probe(bench: Bench, mode: str) -> dict[str, float]:
    """One fresh process; its wall time and the phases it printed."""
    script = bench.work / "probe.py"
    if not script.exists():
        script.write_text(PROBE)
    args = [PY, "-c", "pass"] if mode == "python" else [PY, str(script), mode]
    seconds, proc = bench.run(args)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE ")), None)
    return {"wall_s": seconds, **(json.loads(line[6:]) if line else {})}


def main(argv: list[str] | None = None) -> int:
    args = repeats_parser(__doc__).parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    bench = Bench("worker_startup", f"first-trial start-up with the Kiwi prefetch <= {TARGET} x without it",
                  args.smoke, args.keep)
    probe(bench, "sequential")  # warm the OS file cache (.pyc, site-packages, Kiwi model); not counted
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for _ in range(repeats):  # alternate so a load spike hits every mode alike
        for mode in MODES:
            runs[mode].append(probe(bench, mode))

    def med(mode: str, key: str = "wall_s") -> float | None:
        values = [r[key] for r in runs[mode] if key in r]
        return median(values) if values else None

    seq, bg = med("sequential"), med("background")
    rows = [("python -c pass s", med("python")), ("imports only s", med("imports")),
            ("  of which in-process imports s", med("imports", "imports_s")),
            ("rouge+Kiwi only s", med("kiwi")), ("  rouge module import (nltk) s", med("kiwi", "rouge_import_s")),
            ("  rouge import + Kiwi build/warm s", med("kiwi", "kiwi_s")),
            ("sequential s", seq), ("background (prefetch) s", bg), ("saved s", None if seq is None or bg is None
                                                                          else seq - bg),
            ("ratio background/sequential", ratio(bg, seq)),
            ("main-thread CPU share while Kiwi builds", med("gil", "main_cpu_share")),
            ("Kiwi build/warm without the multi-word dict s", med("no_multi_dict", "kiwi_s"))]
    passed = seq is not None and bg is not None and bg <= TARGET * seq
    return bench.finish(rows, passed, {"runs": runs, "repeats": repeats, "sequential_s": seq, "background_s": bg,
                                       "ratio": ratio(bg, seq)})


if __name__ == "__main__":
    sys.exit(main())
