"""Where a run loses to TF-IDF + LR: its saved predictions scored per band of codes by
training frequency (the 50 most frequent, 5+ training notes, 1-4, unseen; thirds by frequency
when there are 50 codes or fewer), beside LR fitted on the same prepared data.

    python experiments/label_bands.py --run runs/RUN [--split dev|test]

Per band: its share of the split's positives; MAP within the band (each note's ranking of the
band's codes, notes with a positive there); macro-AUC over the band's codes. Then each model's
share of top-5 slots taken by the 50 most frequent codes, P@5 and MAP over all codes, and the
MAP when the codes seen in fewer than N training notes are ranked below all others (do rare
codes' scores push true frequent codes down?).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from jlan_tf import metrics
from jlan_tf.data.prepared import load_prepared
from jlan_tf.run_folder import RunFolder


def bands(train_counts: np.ndarray) -> dict[str, np.ndarray]:
    """Codes by training frequency; with 50 codes or fewer (a top-50 set), thirds of them."""
    if len(train_counts) <= 50:
        order = np.argsort(train_counts, kind="stable")
        return {f"{name} third ({train_counts[part].min()}-{train_counts[part].max()} notes)": np.sort(part)
                for name, part in zip(("rarest", "middle", "most frequent"), np.array_split(order, 3))}
    return {"50 most frequent": np.argsort(-train_counts, kind="stable")[:50],
            "5+ training notes": np.flatnonzero(train_counts >= 5),
            "1-4 training notes": np.flatnonzero((train_counts >= 1) & (train_counts < 5)),
            "unseen in training": np.flatnonzero(train_counts == 0)}


def band_table(y: np.ndarray, scores: dict[str, np.ndarray], train_counts: np.ndarray) -> str:
    names = list(scores)
    lines = ["| band | codes | share of positives | " + " | ".join(f"MAP {n} | macro-AUC {n}" for n in names) + " |",
             "|---" * (3 + 2 * len(names)) + "|"]
    for band, codes in bands(train_counts).items():
        notes = y[:, codes].sum(1) > 0
        cells = []
        for n in names:
            cells += [f"{metrics.mean_average_precision(y[notes][:, codes], scores[n][notes][:, codes]):.3f}",
                      f"{metrics.macro_auc(y[:, codes], scores[n][:, codes]):.3f}"]
        lines.append(f"| {band} | {len(codes)} | {y[:, codes].sum() / y.sum():.2f} | " + " | ".join(cells) + " |")
    lines += ["", "| model | top-5 slots on the 50 most frequent | P@5 | MAP | MAP, codes with < 5 notes ranked last |",
              "|---|---|---|---|---|"]
    top50 = set(np.argsort(-train_counts, kind="stable")[:50].tolist())
    for n in names:
        top5 = np.argsort(-scores[n], axis=1, kind="stable")[:, :5]
        last = scores[n].copy()
        last[:, train_counts < 5] = scores[n].min() - 1.0
        lines.append(f"| {n} | {np.mean([c in top50 for c in top5.ravel()]):.3f} | "
                     f"{metrics.precision_at_k(y, scores[n], 5):.3f} | {metrics.mean_average_precision(y, scores[n]):.3f} | "
                     f"{metrics.mean_average_precision(y, last):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="a finished run (repeat to compare runs)")
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    args = parser.parse_args(argv)
    from jlan_tf.linear import FittedLR

    runs = [RunFolder(r) for r in args.run]
    data = load_prepared(runs[0].read("data")["path"])
    y = data.splits[args.split].multi_hot(data.num_labels)
    scores = {}
    try:
        for run in runs:
            scores[run.name] = run.read_scores(args.split, data.splits[args.split].ids)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    scores["TF-IDF + LR"] = FittedLR(data).scores(args.split)
    print(f"{args.split} split, {len(y)} notes, {data.num_labels} codes, {int(y.sum())} positives\n")
    print(band_table(y, scores, data.train_counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
