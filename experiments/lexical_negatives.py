"""The TF-IDF part's fit on every training note against its fit on a code's notes and a
sample of the others (``lexical_fit.MAX_NEGATIVES``), on a prepared folder's dev split.

For a sample of codes spread over the frequencies (every code present in training ranked by
its training notes, ``--codes`` of them at even steps) it fits both regressions, on one core,
and prints one JSON line: seconds a code for each, and on dev the two fits' mean per-code
average precision and ROC AUC (codes with a dev note), the mean per-note average precision
over the sampled codes, and the largest difference between their scores; and the share of
non-zeros in a sampled code's columns of the training TF-IDF matrix (what a code's fit costs
grows with, beside the notes).

    python experiments/lexical_negatives.py PREPARED --max-negatives 50000 [--codes 300]
        [--results results/scale/lexical_negatives_mimic4.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import sparse
from sklearn.metrics import average_precision_score, roc_auc_score

from jlan_tf.data.prepared import load_prepared
from jlan_tf.lexical_fit import _fit_codes, _training_candidates
from jlan_tf.metrics import mean_average_precision


def dev_figures(scores: np.ndarray, y_dev: np.ndarray) -> dict:
    seen = y_dev.sum(axis=0) > 0
    return {"code_ap": float(np.mean([average_precision_score(y_dev[:, j], scores[:, j]) for j in np.flatnonzero(seen)])),
            "code_auc": float(np.mean([roc_auc_score(y_dev[:, j], scores[:, j]) for j in np.flatnonzero(seen)])),
            "note_map": float(mean_average_precision(y_dev, scores))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prepared")
    parser.add_argument("--max-negatives", type=int, required=True)
    parser.add_argument("--codes", type=int, default=300)
    parser.add_argument("--words", type=int, default=128, help="words per code (model.lexical_words)")
    parser.add_argument("--results")
    args = parser.parse_args(argv)

    data = load_prepared(args.prepared)
    tfidf, counts, y, word_ids = _training_candidates(data, args.words)
    features, y_csc = sparse.csc_matrix(tfidf.transform(counts)), sparse.csc_matrix(y)
    dev = data.splits["dev"]
    dev_features = sparse.csc_matrix(tfidf.transform(dev.word_counts(len(data.vocab))))
    frequency = np.asarray(y.sum(axis=0)).ravel()
    present = np.argsort(-frequency, kind="stable")[:int((frequency > 0).sum())]
    codes = np.unique(present[np.linspace(0, len(present) - 1, args.codes).astype(int)])
    y_dev = dev.multi_hot(data.num_labels)[:, codes]

    density = np.mean([features[:, ids[ids > 0]].nnz / (features.shape[0] * max((ids > 0).sum(), 1))
                       for ids in word_ids[codes]])
    report = {"prepared": args.prepared, "train_notes": int(y.shape[0]), "dev_notes": int(y_dev.shape[0]),
              "codes_sampled": int(len(codes)), "max_negatives": args.max_negatives, "words_per_code": args.words,
              "column_density": float(density)}
    scores = {}
    for name, cap in (("every_note", None), ("sampled", args.max_negatives)):
        start = time.perf_counter()
        fitted = {label: (w, b) for label, w, b in _fit_codes(features, y_csc, word_ids, codes, 10.0, 0, cap)}
        report[f"seconds_per_code_{name}"] = (time.perf_counter() - start) / len(codes)
        scores[name] = np.stack([dev_features[:, word_ids[label]] @ fitted[label][0] + fitted[label][1]
                                 if label in fitted else np.zeros(y_dev.shape[0]) for label in codes], axis=1)
        report[name] = dev_figures(scores[name], y_dev)
    report["max_abs_score_difference"] = float(np.abs(scores["every_note"] - scores["sampled"]).max())
    report["speedup"] = report["seconds_per_code_every_note"] / report["seconds_per_code_sampled"]
    line = json.dumps(report)
    print(line)
    if args.results:
        with open(args.results, "w") as f:
            f.write(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
