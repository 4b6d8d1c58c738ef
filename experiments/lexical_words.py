"""How many words per code the TF-IDF part needs: TF-IDF + LR on the whole vocabulary
(``linear.FittedLR``) against the same regressions on each code's K candidate words
(``lexical_fit.fit_sparse_lr``), LR alone, on a prepared folder's dev and test splits.

    python experiments/lexical_words.py --dataset data/codiesp_en_D_all --words 32,64,128,256,512 \
        --out results/lexical_words/codiesp_en_all.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

from jlan_tf import metrics
from jlan_tf.data.prepared import load_prepared
from jlan_tf.lexical_fit import fit_sparse_lr
from jlan_tf.linear import FittedLR

KEYS = ("map", "macro_auc", "micro_auc", "p_at_5", "micro_f1_tuned")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a prepared folder")
    parser.add_argument("--words", default="32,64,128,256,512")
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args(argv)
    data = load_prepared(args.dataset)
    truth = {s: data.splits[s].multi_hot(data.num_labels) for s in ("dev", "test")}

    def scored(scores: dict) -> dict:
        threshold = metrics.tune_threshold(truth["dev"], scores["dev"])
        return {s: {k: metrics.all_metrics(truth[s], scores[s], threshold)[k] for k in KEYS} for s in scores}

    start = time.perf_counter()
    full = FittedLR(data)
    rows = {"all": {"seconds": round(time.perf_counter() - start, 1),
                    **scored({s: full.scores(s) for s in ("dev", "test")})}}
    for k in [int(w) for w in args.words.split(",")]:
        start = time.perf_counter()
        fitted = fit_sparse_lr(data, k)
        seconds = round(time.perf_counter() - start, 1)
        scores = {s: expit(fitted.decision_function(full.features(s))) * ~np.isnan(fitted.intercepts)
                  for s in ("dev", "test")}
        rows[str(k)] = {"seconds": seconds, **scored(scores)}
    result = {"dataset": str(args.dataset), "labels": data.num_labels, "vocabulary": len(data.vocab),
              "train_notes": len(data.splits["train"]), "words_per_code": rows}
    print(f"{'words':>6} {'s':>6} " + " ".join(f"{s}_{k:>14}" for s in ("dev", "test") for k in KEYS))
    for name, row in rows.items():
        print(f"{name:>6} {row['seconds']:>6} " + " ".join(f"{row[s][k]:>19.4f}" for s in ("dev", "test") for k in KEYS))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
