"""JLAN speed on random token ids: documents/s (steady state, median of several runs) and
peak memory.

    python experiments/benchmark.py --what train --tokens 512 --labels 50 --batch 16
    python experiments/benchmark.py --what infer --tokens 2500 --labels 50 --batch 16 --json

The model is the paper's (k=256, d=200, one residual block, joint fusion) with a 50,000-word
vocabulary of 100-d vectors; precision follows `--precision` (auto: mixed_float16 on a GPU,
float32 on CPU). With --json, prints one JSON line: `train_docs_per_s` or
`infer_docs_per_s`, `peak_rss_mb`, and the shapes and device it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from jlan_tf.config import Config  # noqa: E402
from jlan_tf.model import build_jlan, set_precision  # noqa: E402


def measure(step, batch: int, warmup: int, steps: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            result = step()
        np.asarray(result["loss"] if isinstance(result, dict) else result)  # wait for the device
        rates.append(steps * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", choices=["train", "infer"], default="train")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (the median is reported)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="model.KEY=VALUE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    config = Config().apply_overrides(args.set)
    precision = set_precision(args.precision)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(0, 0.1, (args.vocab, 100)).astype(np.float32)
    descriptions = [rng.integers(2, args.vocab, 6) for _ in range(args.labels)]
    model = build_jlan(config.model, embeddings, args.labels, descriptions, d_max=0.15, warmup_steps=10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=config.train.jit_compile)
    x = {"tokens": tf.constant(rng.integers(2, args.vocab, (args.batch, args.tokens)), tf.int32)}
    y = {"labels": tf.constant((rng.random((args.batch, args.labels)) < 0.1).astype(np.float32))}

    if args.what == "train":
        step = lambda: model.train_on_batch(x, y, return_dict=True)
    else:
        step = lambda: model.predict_on_batch(x)
    rate = measure(step, args.batch, warmup=2, steps=args.steps, repeats=args.repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU x{os.cpu_count()}"
    result = {f"{args.what}_docs_per_s": round(rate, 2), "peak_rss_mb": round(peak_mb),
              "tokens": args.tokens, "labels": args.labels, "batch": args.batch,
              "precision": precision, "device": device}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.what}: {rate:.1f} documents/s  (tokens {args.tokens}, labels {args.labels}, batch {args.batch}, "
              f"{precision}, {device}); peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
