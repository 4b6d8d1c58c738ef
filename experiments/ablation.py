"""The paper's ablation (its figure 6) and convergence curves (figures 7 and 8).

Variants: label attention only (L), self-attention only (S), both summed without learned
weights (L+S), joint fusion (J), and joint fusion with the truncation loss (J+D); each over
--seeds model seeds. Writes OUT/table.{md,csv} (test metrics, mean ± std), OUT/ablation.png,
OUT/convergence_fusion.png (J vs L+S), OUT/convergence_truncation.png (J+D vs J) and the
curves of every variant for TensorBoard under OUT/tensorboard.

    python experiments/ablation.py                                   # synthetic, small: ~25 min on 2 cores
    python experiments/ablation.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50
                                                                     # CodiEsp-50, 15 epochs: ~45 min
    python experiments/ablation.py --dataset top50 --full --seeds 3  # MIMIC-III-50 at the paper's scale
"""

import sys
from pathlib import Path

from _common import curves, sweep

VARIANTS = {
    "L": ["model.fusion=label_only", "train.d_max=0"],
    "S": ["model.fusion=self_only", "train.d_max=0"],
    "L+S": ["model.fusion=sum", "train.d_max=0"],
    "J": ["model.fusion=joint", "train.d_max=0"],
    "J+D": ["model.fusion=joint", "train.d_max=0.15"],
}


def main(argv=None) -> int:
    args, results = sweep(argv, __doc__, "ablation", VARIANTS, "Ablation")
    out = Path(args.out)
    curves(results, ["L+S", "J"], out / "convergence_fusion.png", "With and without joint fusion")
    curves(results, ["J", "J+D"], out / "convergence_truncation.png", "With and without the truncation loss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
