"""``jlan-evaluate --y-true Y.npy --y-score S.npy``: the metrics of metrics.json for saved
predictions (documents x labels: a 0/1 matrix and a score matrix).

``jlan-evaluate --run RUN --codiesp-file PATH [--split test] [--gold GOLD.tsv]``: writes a
run's saved scores of a split as the CodiEsp task's prediction file (``note<TAB>code``, each
note's codes best first, at most 1,000, no header) and, with the task's gold file (e.g. the
release's ``dev/devD.tsv``), prints the official MAP of that file (``metrics.codiesp_map``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jlan_tf.metrics import all_metrics, codiesp_map


def _load(path: str, name: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise SystemExit(f"jlan-evaluate: error: {path}: cannot read {name} as a .npy array ({e})")
    if array.ndim != 2:
        raise SystemExit(f"jlan-evaluate: error: {path}: {name} must be a documents x labels matrix, got shape {array.shape}")
    return array


def _codiesp_file(args) -> int:
    from jlan_tf.codiesp_task import read_codes_file, write_prediction_file

    predictions = Path(args.run) / "predictions"
    scores_path, ids_path, labels_path = (predictions / f"{args.split}_scores.npy", predictions / f"{args.split}_ids.txt",
                                          Path(args.run) / "labels.tsv")
    for path in (scores_path, ids_path, labels_path):
        if not path.is_file():
            print(f"jlan-evaluate: error: {path}: missing; is {args.run} a finished training run?", file=sys.stderr)
            return 2
    codes = [line.split("\t", 1)[0] for line in labels_path.read_text(encoding="utf-8").splitlines()]
    ids = ids_path.read_text(encoding="utf-8").split()
    try:
        path = write_prediction_file(args.codiesp_file, ids, _load(str(scores_path), "scores"), codes)
        result = {"prediction_file": str(path), "notes": len(ids)}
        if args.gold:
            result["codiesp_map"] = codiesp_map(read_codes_file(args.gold), read_codes_file(path))
    except (OSError, ValueError) as e:
        print(f"jlan-evaluate: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else "\n".join(f"{k:>20}  {v}" for k, v in result.items()))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jlan-evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--y-true", help=".npy 0/1 matrix")
    parser.add_argument("--y-score", help=".npy score matrix (probabilities)")
    parser.add_argument("--threshold", type=float, help="also report micro_f1_tuned at this threshold")
    parser.add_argument("--run", help="a training run folder (with --codiesp-file)")
    parser.add_argument("--split", default="test", choices=["dev", "test"], help="the run's split (default test)")
    parser.add_argument("--codiesp-file", help="write the run's ranked codes as the CodiEsp task's prediction file")
    parser.add_argument("--gold", help="the task's gold file (note<TAB>code): print the official MAP")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.run or args.codiesp_file:
        if not (args.run and args.codiesp_file):
            parser.error("--run and --codiesp-file go together")
        return _codiesp_file(args)
    if not (args.y_true and args.y_score):
        parser.error("give --y-true and --y-score (or --run with --codiesp-file)")
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
