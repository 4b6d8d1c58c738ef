"""Noise study on the synthetic corpus: label noise 0, 10, 20 and 30 %, with and without the
truncation loss. Scores are measured against the *clean* test labels (test_clean), and the
mask's precision and recall at catching the noisy labels (last training epoch) are reported.

Writes OUT/table.{md,csv}, OUT/noise_study.png and, for TensorBoard,
OUT/tensorboard (the convergence curves of every variant).

    python experiments/noise_study.py                  # small: ~25 min on 2 cores with --seeds 1
"""

import sys
from pathlib import Path

from _common import PAPER, parse_args, run_all, tensorboard_curves, write_table

NOISE = ("0.0", "0.1", "0.2", "0.3")


def main(argv=None) -> int:
    args = parse_args(argv, __doc__, "noise_study")
    if args.dataset != "synthetic":
        raise SystemExit("the noise study needs the synthetic corpus (it knows which labels are noise)")
    variants = {f"noise={n} {name}": PAPER + [f"data.synthetic_noise={n}", f"train.d_max={d}"]
                for n in NOISE for name, d in (("BCE", "0"), ("T-BCE", "0.15"))}
    results = run_all(args, variants)
    mask = {name: {k: [r["epochs"][-1]["train"].get(k, 0.0) for r in runs] for k in ("mask_precision", "mask_recall")}
            for name, runs in results.items()}
    out = Path(args.out)
    print(write_table(results, out, block="test_clean", metrics=("micro_f1", "macro_f1", "macro_f1_per_label"),
                      extra=mask))
    plot(results, out / "noise_study.png")
    tensorboard_curves(results, out / "tensorboard")
    return 0


def plot(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import statistics

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name in ("BCE", "T-BCE"):
        ys = [statistics.fmean(r["test_clean"]["micro_f1"] for r in results[f"noise={n} {name}"]) for n in NOISE]
        ax.plot([float(n) for n in NOISE], ys, marker="o", label=name)
    ax.set(xlabel="label noise rate (train, dev and test)", ylabel="micro-F1 vs clean test labels")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
