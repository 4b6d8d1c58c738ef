"""``jlan-evaluate --y-true Y.npy --y-score S.npy``: the metrics of metrics.json for saved
predictions (documents x labels: a 0/1 matrix and a score matrix)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from jlan_tf.metrics import all_metrics


def _load(path: str, name: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise SystemExit(f"jlan-evaluate: error: {path}: cannot read {name} as a .npy array ({e})")
    if array.ndim != 2:
        raise SystemExit(f"jlan-evaluate: error: {path}: {name} must be a documents x labels matrix, got shape {array.shape}")
    return array


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jlan-evaluate", description=__doc__)
    parser.add_argument("--y-true", required=True, help=".npy 0/1 matrix")
    parser.add_argument("--y-score", required=True, help=".npy score matrix (probabilities)")
    parser.add_argument("--threshold", type=float, help="also report micro_f1_tuned at this threshold")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    y_true, y_score = _load(args.y_true, "y_true"), _load(args.y_score, "y_score")
    if y_true.shape != y_score.shape:
        print(f"jlan-evaluate: error: shapes differ: {y_true.shape} vs {y_score.shape}", file=sys.stderr)
        return 2
    if not np.isin(y_true, (0, 1)).all():
        print(f"jlan-evaluate: error: {args.y_true}: y_true must hold only 0 and 1", file=sys.stderr)
        return 2
    result = all_metrics(y_true, y_score, args.threshold)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key:>20}  {value:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
