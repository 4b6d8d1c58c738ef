"""TF-IDF + logistic regression baseline on a prepared dataset (the bag-of-words bar JLAN
must clear). Uses the prepared token ids (unigrams, the same vocabulary as JLAN), one
logistic regression per code, the 0.5 threshold and a threshold tuned on dev.

    python experiments/baseline_lr.py --dataset top50            # the synthetic stand-in without MIMIC
    python experiments/baseline_lr.py --dataset data/codiesp_en_D_top50 --json
    python experiments/baseline_lr.py --dataset codiesp --codiesp-file lr_test.tsv

For CodiEsp data each split's metrics include ``codiesp_map``, the task's official MAP, and
``--codiesp-file PATH`` writes the test split's ranked codes in the task's prediction format.
"""

from __future__ import annotations

import argparse
import json
import sys

from jlan_tf import metrics
from jlan_tf.config import Config
from jlan_tf.data.catalog import resolve
from jlan_tf.data.prepared import load_prepared
from jlan_tf.studies.lr_baseline import fit_and_score


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="top50 | synthetic | codiesp | a prepared folder")
    parser.add_argument("--data-dir")
    parser.add_argument("--top-codes", type=int)
    parser.add_argument("--lang", choices=["en", "es"], default="en")
    parser.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE")
    parser.add_argument("--c", type=float, default=10.0, help="inverse regularisation strength")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--codiesp-file", help="write the test split's ranked codes as the CodiEsp task's prediction file")
    args = parser.parse_args(argv)
    config = Config().apply_overrides(args.set)
    dataset = resolve(args.dataset, config.data, args.data_dir, args.top_codes, args.lang)
    if dataset.note:
        print(dataset.note)
    result = fit_and_score(load_prepared(dataset.path), args.c, config.train.seed, args.codiesp_file)
    if args.json:
        print(json.dumps(result))
    priors = result["test_priors"]
    print("label frequencies alone, test: " + metrics.summary_line(priors)
          + (f"  codiesp_map {priors['codiesp_map']:.4f}" if "codiesp_map" in priors else ""))
    for split in [s for s in ("dev", "test", "test_clean") if s in result]:
        print(f"TF-IDF+LR {split:>10}: " + metrics.summary_line(result[split])
              + f"  micro_f1_tuned {result[split]['micro_f1_tuned']:.4f}"
              + (f"  codiesp_map {result[split]['codiesp_map']:.4f}" if "codiesp_map" in result[split] else ""))
    print(f"largest |weight| per code, median over the codes: {result['largest_weight_median']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
