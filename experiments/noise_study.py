"""Noise study on the synthetic corpus: label noise 0, 10, 20 and 30 % (codes missed and wrong
codes added, in every split), plain BCE against truncation losses: the paper's (T-BCE:
D_max 0.15, ranked by loss, ceil, no burn-in; ``preset=jlan_paper``'s loss) and the project's
default (D*: ranked relative to each code's running mean positive loss, 4 epochs of burn-in,
a 2-epoch ramp to D_max 0.1, stochastic rounding); D*+N drops negatives too (the highest-loss
ones, 0.1 x the batch's positives: codes a coder missed) and N negatives alone. The fusion is the default (J2) in these
three, so only the loss differs; the fusion's before/after uses plain BCE with the plain sum
(``BCE L+S``) and with the paper's joint fusion (``BCE J``), paired with ``BCE`` (fusion J2).
Scores are measured against the *clean* test labels (test_clean); the mask's precision and
recall at catching the noisy labels are those of the last training epoch. Training runs until dev MAP (noisy dev labels, as a user would have)
stops improving, at most 12 epochs.

Writes OUT/table.{md,csv}, OUT/noise=R/paired_test_clean.md (per noise rate, the paired
differences to BCE with 95 % intervals; likewise on dev), OUT/noise_study.png and, for
TensorBoard, OUT/tensorboard.

    python experiments/noise_study.py --seeds 5      # 20 variants x 5 seeds; ~5 min a run on 2 cores
    python experiments/noise_study.py --seeds 5 --variants "noise=0.1 BCE,noise=0.1 D*"
    python experiments/noise_study.py --seeds 5 --variants "noise=0.1 BCE,noise=0.1 BCE L+S,noise=0.1 BCE J"
    python experiments/noise_study.py --seeds 5 --variants "noise=0.1 BCE,noise=0.1 D*+N,noise=0.1 N" \
        --set model.lstm_units=128 --report-to results/noise_study/negatives
"""

import sys
from pathlib import Path

from jlan_tf.studies.runs import AS_RECORDED, parse_args, report_dir, run_all
from jlan_tf.studies.tables import tensorboard_curves, write_paired_table, write_table

NOISE = ("0.0", "0.1", "0.2", "0.3")
# The loss alone differs; every variant as the 5-seed study ran it (AS_RECORDED).
LOSSES = {
    "BCE": ["train.d_max=0", *AS_RECORDED],
    "T-BCE": ["train.d_max=0.15", "study.drop_rank=loss", "study.drop_rounding=ceil", "train.burn_in_epochs=0",
              *AS_RECORDED],
    "D*": AS_RECORDED,  # the defaults' truncation loss (config.TrainConfig)
    # The same for negatives too (codes a coder missed: half the corpus' noise), at the positives'
    # rate: D*+N; and negatives alone with plain BCE for the positives: N.
    "D*+N": [*AS_RECORDED, "train.d_max_negatives=0.1"],
    "N": ["train.d_max=0", "train.d_max_negatives=0.1", *AS_RECORDED],
}
# The fusion's before/after on the same data: plain BCE with the plain sum (L+S) and with the
# paper's joint fusion (J: unscaled, one gate bias per view); BCE itself has the default fusion (J2).
FUSIONS = {
    "BCE L+S": LOSSES["BCE"] + ["model.fusion=sum"],
    "BCE J": LOSSES["BCE"] + ["study.fusion_scale=1", "study.fusion_label_bias=false"],
}
ARMS = {**LOSSES, **FUSIONS}  # every variant at a noise rate, paired with BCE
# Long enough for D*'s burn-in and ramp (6 epochs) to matter; early stopping ends most runs before.
SCHEDULE = ["train.epochs=12", "train.patience=3"]
MASK = ("mask_precision", "mask_recall", "negative_mask_precision", "negative_mask_recall")


def main(argv=None) -> int:
    args = parse_args(argv, __doc__, "noise_study")
    if args.dataset != "synthetic":
        raise SystemExit("the noise study needs the synthetic corpus (it knows which labels are noise)")
    args.set = SCHEDULE + args.set  # the user's --set wins over the schedule
    variants = {f"noise={n} {loss}": [f"data.synthetic_noise={n}"] + overrides
                for n in NOISE for loss, overrides in ARMS.items()}
    results = {k: v for k, v in run_all(args, variants).items() if v}
    if not results:
        raise SystemExit("no finished runs yet")
    mask = {name: {k: [r["epochs"][-1]["train"].get(k, 0.0) for r in runs] for k in MASK}
            for name, runs in results.items()}
    out = report_dir(args)
    metrics = ("micro_f1", "macro_f1", "micro_auc", "macro_auc", "map")
    print(write_table(results, out, block="test_clean", metrics=metrics, extra=mask))
    for n in NOISE:
        group = {loss: results[f"noise={n} {loss}"] for loss in ARMS if f"noise={n} {loss}" in results}
        if "BCE" in group and len(group) > 1:
            for block in ("dev", "test_clean"):
                print(f"noise={n}\n" + write_paired_table(group, out / f"noise={n}", "BCE", block, metrics))
    plot(results, out / "noise_study.png")
    tensorboard_curves(results, out / "tensorboard")
    return 0


def plot(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import statistics

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for loss in LOSSES:
        points = [(float(n), statistics.fmean(r["test_clean"]["micro_f1"] for r in results[f"noise={n} {loss}"]))
                  for n in NOISE if f"noise={n} {loss}" in results]
        if points:
            ax.plot(*zip(*points), marker="o", label=loss)
    ax.set(xlabel="label noise rate (train, dev and test)", ylabel="micro-F1 vs clean test labels")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
