"""The paper's table 4: 1, 2 and 3 residual convolution blocks (joint fusion, D_max 0.15).

Writes OUT/table.{md,csv}, OUT/sweep_blocks.png and, for TensorBoard,
OUT/tensorboard (the convergence curves of every variant).

    python experiments/sweep_blocks.py                 # synthetic, small: ~15 min on 2 cores with --seeds 1
    python experiments/sweep_blocks.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50 --seeds 1
"""

import sys

from jlan_tf.studies.runs import PAPER, sweep


def main(argv=None) -> int:
    sweep(argv, __doc__, "sweep_blocks", {f"P={p}": PAPER + [f"model.residual_blocks={p}"] for p in (1, 2, 3)},
          "Residual blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
