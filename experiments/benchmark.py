"""JLAN speed on random token ids: documents/s (steady state, median of several runs) and
peak memory.

    python experiments/benchmark.py --what train --tokens 512 --labels 50 --batch 16
    python experiments/benchmark.py --what infer --tokens 2500 --labels 50 --batch 16 --json
    python experiments/benchmark.py --what serve --tokens 2500 --labels 50 --batch 16

The model is the paper's (k=256, d=200, one residual block, joint fusion) with a 50,000-word
vocabulary of 100-d vectors; precision follows `--precision` (auto: mixed_float16 on a GPU,
float32 on CPU). With --json, prints one JSON line: `train_docs_per_s` or
`infer_docs_per_s`, `peak_rss_mb`, and the shapes and device it ran on.

`--compare` (train or infer) then runs experiments/bench_peers_torch.py with the same shapes
and protocol, right after, in a fresh process, and prints JLAN's rate divided by LAAT's
(needs PyTorch: see that script); peak memory of each is printed beside its figure. With
`--rounds N` it alternates the two N times (this machine's speed drifts by ±10 % over minutes)
and reports the pair with the median ratio, and every pair's ratio.

`--what serve` exports the model as the TF Serving SavedModel (jlan_tf.serving.export_run),
loads it with TensorFlow and reports the `serving_default` latency for one note of
`--tokens` words (p50/p95 over `--requests` calls) and the batched throughput (notes/s in
batches of `--batch`), raw text in, codes out: tokenization included; `--candidates N` exports
it to score each note's N first-stage codes only (`jlan_tf.candidates`).

`--layers-calls` scores (and trains) with the layers' own calls instead of
`jlan_tf.projected_scores`: the baseline for that module's speed-up (`layers_calls` in the JSON).
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

from jlan_tf import projected_scores  # noqa: E402
from jlan_tf.config import Config  # noqa: E402
from jlan_tf.model import set_precision  # noqa: E402
from jlan_tf.studies.bench import random_model  # noqa: E402


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


def serve(model, args, precision: str) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from jlan_tf.serving import export_model

    folder = Path(tempfile.mkdtemp(prefix="jlan_serve_"))
    try:
        words = [f"w{i}" for i in range(args.vocab - 2)]
        (folder / "vocab.txt").write_text("\n".join(["<pad>", "<unk>", *words]) + "\n")
        (folder / "labels.tsv").write_text("".join(f"C{j}\tcode {j}\t1\n" for j in range(args.labels)))
        exported = export_model(model, folder / "vocab.txt", folder / "labels.tsv", 2500, folder / "saved",
                                candidates=args.candidates)
        signature = tf.saved_model.load(str(exported)).signatures["serving_default"]
        rng = np.random.default_rng(1)
        note = lambda: " ".join(rng.choice(words, args.tokens))
        single = tf.constant([note()])
        for _ in range(3):
            signature(text=single)
        latencies = []
        for _ in range(args.requests):
            start = time.perf_counter()
            signature(text=single)["top_codes"].numpy()
            latencies.append(1000 * (time.perf_counter() - start))
        batch = tf.constant([note() for _ in range(args.batch)])
        signature(text=batch)
        rate = measure(lambda: signature(text=batch)["top_scores"], args.batch, warmup=1, steps=args.steps,
                       repeats=args.repeats)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    p50, p95 = np.percentile(latencies, [50, 95])
    result = {"serve_p50_ms": round(float(p50), 1), "serve_p95_ms": round(float(p95), 1),
              "serve_batch_docs_per_s": round(rate, 2), "tokens": args.tokens, "labels": args.labels,
              "batch": args.batch, "precision": precision, "layers_calls": args.layers_calls,
              "candidates": args.candidates, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(result) if args.json else
          f"serve: one note of {args.tokens} words p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
          f"batches of {args.batch}: {rate:.1f} notes/s ({precision})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", choices=["train", "infer", "serve"], default="train")
    parser.add_argument("--requests", type=int, default=30, help="serve: single-note calls timed")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (the median is reported)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--candidates", type=int, default=0,
                        help="serve: score each note's N first-stage codes only (0: every code)")
    parser.add_argument("--layers-calls", action="store_true",
                        help="score and train with the layers' own calls, not jlan_tf.projected_scores (a baseline)")
    parser.add_argument("--compare", action="store_true", help="also run the PyTorch peers, print the ratio")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --compare: alternate JLAN and LAAT this many times, report the median ratio")
    args = parser.parse_args(argv)

    config = Config().apply_overrides(args.set)
    if args.layers_calls:
        projected_scores.supports = lambda model: False
    precision = set_precision(args.precision)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # the optimizer training uses (the weights' moving average included, train.ema_momentum)
    model = random_model(config, args.vocab, args.labels, rng)
    x = {"tokens": tf.constant(rng.integers(2, args.vocab, (args.batch, args.tokens)), tf.int32)}
    y = {"labels": tf.constant((rng.random((args.batch, args.labels)) < 0.1).astype(np.float32))}

    if args.what == "serve":
        return serve(model, args, precision)
    if args.what == "train":
        step = lambda: model.train_on_batch(x, y, return_dict=True)
    else:
        step = lambda: model.predict_on_batch(x)
    rate = measure(step, args.batch, warmup=2, steps=args.steps, repeats=args.repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU x{os.cpu_count()}"
    result = {f"{args.what}_docs_per_s": round(rate, 2), "peak_rss_mb": round(peak_mb),
              "tokens": args.tokens, "labels": args.labels, "batch": args.batch,
              "precision": precision, "device": device, "layers_calls": args.layers_calls}
    if args.compare:
        rounds = [compare_with_laat(args, rate)]
        for _ in range(args.rounds - 1):  # the machine's speed drifts: pairs measured one after the other
            rounds.append(compare_with_laat(args, measure(step, args.batch, warmup=1, steps=args.steps,
                                                          repeats=args.repeats)))
        ratios = [r["ratio_to_laat"] for r in rounds]
        median_pair = min(rounds, key=lambda r: abs(r["ratio_to_laat"] - statistics.median(ratios)))
        rate = median_pair.pop("jlan_docs_per_s")
        result.update(median_pair, ratios_to_laat=ratios)
        result[f"{args.what}_docs_per_s"] = rate
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.what}: {rate:.1f} documents/s  (tokens {args.tokens}, labels {args.labels}, batch {args.batch}, "
              f"{precision}, {device}); peak RSS {peak_mb:.0f} MB")
        if args.compare:
            print(f"LAAT (PyTorch): {result['laat_docs_per_s']:.1f} documents/s; peak RSS {result['laat_peak_rss_mb']} MB"
                  f"\nJLAN / LAAT: {result['ratio_to_laat']:.2f}x")
            if args.rounds > 1:
                print(f"median of {args.rounds} pairs (shown above); every pair's ratio: {result['ratios_to_laat']}")
    return 0


def compare_with_laat(args, rate: float) -> dict:
    """Runs bench_peers_torch.py with the same shapes right after, in a fresh process."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).with_name("bench_peers_torch.py")
    command = [sys.executable, str(script), "--what", args.what, "--tokens", str(args.tokens), "--labels",
               str(args.labels), "--batch", str(args.batch), "--vocab", str(args.vocab), "--steps", str(args.steps),
               "--repeats", str(args.repeats), "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench_peers_torch.py failed (is PyTorch installed?): {done.stderr.strip()[-500:]}")
    peers = json.loads(done.stdout.strip().splitlines()[-1])
    laat = peers[f"laat_{args.what}_docs_per_s"]
    return {"jlan_docs_per_s": round(rate, 2), "laat_docs_per_s": laat, "laat_peak_rss_mb": peers["peak_rss_mb"],
            "ratio_to_laat": round(rate / laat, 3)}


if __name__ == "__main__":
    sys.exit(main())
