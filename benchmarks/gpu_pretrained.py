"""The users' path on a GPU (issue 12): model.init=pretrained with the real hub tokenizers (KoBART, KoGPT2,
KE-T5; tiny random weights, real vocabulary and special-token ids, tests/pretrained_like.py), fine-tuned with
hardware=gpu and reloaded by predict.py hardware=gpu. Every summary is one tagged sentence: done right, every
prediction equals it exactly (stops, tags spaced as written).

Usage: DIALSUM_TOKENIZERS=<folder with kobart/ kogpt2/ ke-t5/> python benchmarks/gpu_pretrained.py [--out F] [--cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
SENTENCE = "#Person1#은 내일 오후에 #Person2#와 만납니다."


def main() -> int:
    """Train + predict per family; prints and writes one JSON with pass/fail and the device used."""
    args = argparse.ArgumentParser()
    args.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_pretrained.json")
    args.add_argument("--cpu", action="store_true", help="dry run on the CPU")
    opts = args.parse_args()
    import pretrained_like
    from dialsum.data.synthetic import generate_examples

    hardware = "cpu" if opts.cpu else "gpu"
    work = Path(tempfile.mkdtemp(prefix="gpu_pretrained_"))
    frame = pd.DataFrame(generate_examples(340, seed=7))[["fname", "dialogue", "summary"]].assign(summary=SENTENCE)
    paths = {}
    for split, rows in (("train", frame.iloc[:300]), ("dev", frame.iloc[300:316]), ("test", frame.iloc[316:332])):
        paths[split] = work / f"{split}.csv"
        rows.to_csv(paths[split], index=False)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    results = {}
    for model in ("kobart", "kogpt2", "t5"):
        ckpt = pretrained_like.build(model, work / "ckpt" / model)
        run = work / f"run_{model}"
        started = time.time()
        train = subprocess.run([sys.executable, str(ROOT / "train.py"), f"model={model}", "model.init=pretrained",
                                f"model.pretrained_name_or_path={ckpt}", f"hardware={hardware}", "data=dialogsum_ko",
                                f"data.train_path={paths['train']}", f"data.val_path={paths['dev']}",
                                "data.min_val_rows=0", "training.learning_rate=5e-3", "training.max_steps=120",
                                "training.eval_steps=60", "training.save_steps=60",
                                "training.per_device_train_batch_size=8", "model.max_source_length=32",
                                "generation.max_new_tokens=32", "metric.tokenizer=whitespace", f"paths.cache_dir={work}/cache",
                                f"hydra.run.dir={run}"], env=env, capture_output=True, text=True, cwd=work)
        pred = subprocess.run([sys.executable, str(ROOT / "predict.py"), f"run_dir={run}", f"hardware={hardware}",
                               f"data.test_path={paths['test']}", "metric.tokenizer=whitespace",
                               f"paths.cache_dir={work}/cache", f"hydra.run.dir={work}/pred_{model}"],
                              env=env, capture_output=True, text=True, cwd=work)
        out = {"train_rc": train.returncode, "predict_rc": pred.returncode, "wall_s": round(time.time() - started, 1)}
        if train.returncode == 0:
            metrics = json.loads((run / "metrics.json").read_text())
            out.update(device=metrics.get("device"), peak_gpu_mb=metrics.get("peak_gpu_mb"),
                       best=metrics["objective"]["value"])
        if pred.returncode == 0:
            sub = pd.read_csv(run / "submission.csv")
            out["exact"] = f"{int((sub.summary == SENTENCE).sum())}/{len(sub)}"
            out["example"] = sub.summary.iloc[0]
            out["predict_on"] = next((l.split("device: ", 1)[1] for l in (pred.stdout + pred.stderr).splitlines()
                                      if "device: " in l), None)
        else:
            out["error"] = (train.stderr if train.returncode else pred.stderr)[-800:]
        out["pass"] = out.get("exact") == "16/16"
        results[model] = out
        print(model, json.dumps(out, ensure_ascii=False), flush=True)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps({"hardware": hardware, "results": results}, indent=2, ensure_ascii=False))
    return 0 if all(r["pass"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
