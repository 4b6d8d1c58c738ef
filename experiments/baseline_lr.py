"""TF-IDF + logistic regression baseline on a prepared dataset (the bag-of-words bar JLAN
must clear). Uses the prepared token ids (unigrams, the same vocabulary as JLAN), one
logistic regression per code, the 0.5 threshold and a threshold tuned on dev.

    python experiments/baseline_lr.py --dataset top50            # the synthetic stand-in without MIMIC
    python experiments/baseline_lr.py --dataset data/codiesp_en_D_top50 --json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from jlan_tf import metrics
from jlan_tf.config import Config
from jlan_tf.data.catalog import resolve
from jlan_tf.data.prepared import PreparedDataset, load_prepared
from jlan_tf.linear import FittedLR


def fit_and_score(data: PreparedDataset, c: float = 10.0, seed: int = 0) -> dict:
    fitted = FittedLR(data, c, seed)
    scores = fitted.scores
    dev_scores, test_scores = scores("dev"), scores("test")
    dev_true = data.splits["dev"].multi_hot(data.num_labels)
    threshold = metrics.tune_threshold(dev_true, dev_scores)
    result = {"dev": metrics.all_metrics(dev_true, dev_scores, threshold),
              "test": metrics.all_metrics(data.splits["test"].multi_hot(data.num_labels), test_scores, threshold),
              # How large LR's weights grow (the size model.lexical_scale is set against): per code
              # seen in training its largest |weight|, the median over those codes.
              "largest_weight_median": float(np.median(np.abs(fitted.coefficients()[fitted.present]).max(axis=1)))}
    # The floor: every note scored with the codes' training frequencies.
    y_train = data.splits["train"].multi_hot(data.num_labels)
    priors = np.tile(y_train.mean(axis=0), (len(data.splits["test"]), 1))
    result["test_priors"] = metrics.all_metrics(data.splits["test"].multi_hot(data.num_labels), priors, threshold)
    if data.has_clean_labels:
        result["test_clean"] = metrics.all_metrics(data.splits["test"].multi_hot(data.num_labels, clean=True),
                                                   test_scores, threshold)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="top50 | synthetic | codiesp | a prepared folder")
    parser.add_argument("--data-dir")
    parser.add_argument("--top-codes", type=int)
    parser.add_argument("--lang", choices=["en", "es"], default="en")
    parser.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE")
    parser.add_argument("--c", type=float, default=10.0, help="inverse regularisation strength")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    config = Config().apply_overrides(args.set)
    dataset = resolve(args.dataset, config.data, args.data_dir, args.top_codes, args.lang)
    if dataset.note:
        print(dataset.note)
    result = fit_and_score(load_prepared(dataset.path), args.c, config.train.seed)
    if args.json:
        print(json.dumps(result))
    print("label frequencies alone, test: " + metrics.summary_line(result["test_priors"]))
    for split in [s for s in ("dev", "test", "test_clean") if s in result]:
        print(f"TF-IDF+LR {split:>10}: " + metrics.summary_line(result[split])
              + f"  micro_f1_tuned {result[split]['micro_f1_tuned']:.4f}")
    print(f"largest |weight| per code, median over the codes: {result['largest_weight_median']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
