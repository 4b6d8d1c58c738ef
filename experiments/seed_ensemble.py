"""How much of a gap is seed variance: the metrics of one run, and of the mean scores of the
first k runs (k = 1, 2, 3, ... all), beside TF-IDF + LR fitted on the same prepared data; and
the mean of a run's scores and LR's (one run, and the mean of all runs): if that beats both,
the network and the bag of words err on different notes.

    python experiments/seed_ensemble.py --sweep results/ablation_codiesp --variant "J2+D*" [--split dev]

If averaging a few differently seeded models closes a gap to LR that no single model closes,
the gap is (largely) variance, and what reduces a single model's variance (weight averaging,
regularisation) is where to look; if it does not, it is bias. Choose on dev.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from jlan_tf import metrics
from jlan_tf.data.prepared import load_prepared

COLUMNS = {"micro-AUC": metrics.micro_auc, "macro-AUC": metrics.macro_auc,
           "P@5": lambda y, s: metrics.precision_at_k(y, s, 5), "MAP": metrics.mean_average_precision}


def ensemble_table(y: np.ndarray, runs: list[np.ndarray], reference: dict[str, np.ndarray]) -> str:
    """Markdown: the mean (± sd) of single runs, the mean scores of the first k runs, and references."""
    lines = ["| scores | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    singles = {name: [f(y, s) for s in runs] for name, f in COLUMNS.items()}
    sd = lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0  # noqa: E731
    lines.append(f"| one run (mean ± sd of {len(runs)}) | "
                 + " | ".join(f"{np.mean(v):.3f} ± {sd(v):.3f}" for v in singles.values()) + " |")
    for k in range(2, len(runs) + 1):
        mean = np.mean(runs[:k], axis=0)
        lines.append(f"| mean of the first {k} runs | " + " | ".join(f"{f(y, mean):.3f}" for f in COLUMNS.values()) + " |")
    for name, scores in reference.items():
        lines.append(f"| {name} | " + " | ".join(f"{f(y, scores):.3f}" for f in COLUMNS.values()) + " |")
    for name, scores in reference.items():  # do the runs and the reference err differently?
        with_one = {c: [f(y, (s + scores) / 2) for s in runs] for c, f in COLUMNS.items()}
        lines.append(f"| one run and {name}, mean of the two scores (mean ± sd of {len(runs)}) | "
                     + " | ".join(f"{np.mean(v):.3f} ± {sd(v):.3f}" for v in with_one.values()) + " |")
        both = (np.mean(runs, axis=0) + scores) / 2
        lines.append(f"| mean of all {len(runs)} runs and {name} (half each) | "
                     + " | ".join(f"{f(y, both):.3f}" for f in COLUMNS.values()) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", required=True, help="a sweep's folder (the --out of ablation.py, compare.py, ...)")
    parser.add_argument("--variant", required=True, help="its variant: the finished runs of seeds 0, 1, ... are used")
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    args = parser.parse_args(argv)
    from jlan_tf.linear import FittedLR
    from jlan_tf.studies.runs import run_folder

    runs = []
    while run_folder(args.sweep, args.variant, len(runs)).metrics.exists():
        runs.append(run_folder(args.sweep, args.variant, len(runs)))
    if not runs:
        raise SystemExit(f"no finished run {run_folder(args.sweep, args.variant, 0).path}")
    data = load_prepared(runs[0].read("data")["path"])
    ids = data.splits[args.split].ids
    try:
        scores = [run.read_scores(args.split, ids) for run in runs]
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(str(e)) from None
    y = data.splits[args.split].multi_hot(data.num_labels)
    print(f"{args.split} split, {len(y)} notes; runs: {', '.join(r.name for r in runs)}\n")
    print(ensemble_table(y, scores, {"TF-IDF + LR": FittedLR(data).scores(args.split)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
