"""The paper's table 3: the truncation loss D_max in 0, 0.05, 0.1, 0.15, 0.2, 0.3 (joint fusion),
in the paper's form of both ideas (``jlan_tf.studies.runs.PAPER``).

Writes OUT/table.{md,csv}, OUT/sweep_tloss.png and, for TensorBoard,
OUT/tensorboard (the convergence curves of every variant).

    python experiments/sweep_tloss.py                  # synthetic, small: ~25 min on 2 cores with --seeds 1
    python experiments/sweep_tloss.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50 --seeds 1
"""

import sys

from jlan_tf.studies.runs import PAPER, sweep

RATES = ("0", "0.05", "0.1", "0.15", "0.2", "0.3")


def main(argv=None) -> int:
    sweep(argv, __doc__, "sweep_tloss", {f"D_max={r}": PAPER + [f"train.d_max={r}"] for r in RATES}, "Truncation loss sweep")
    return 0


if __name__ == "__main__":
    sys.exit(main())
