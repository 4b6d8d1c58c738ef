"""The paper's table 4: 1, 2 and 3 residual convolution blocks (joint fusion, D_max 0.15).

Writes OUT/table.{md,csv} and OUT/sweep_blocks.png.

    python experiments/sweep_blocks.py                 # synthetic, small: ~15 min on 2 cores with --seeds 1
"""

import sys
from pathlib import Path

from _common import bar_chart, parser, run_all, write_table


def main(argv=None) -> int:
    args = parser(__doc__, "results/sweep_blocks").parse_args(argv)
    results = run_all(args, {f"P={p}": [f"model.residual_blocks={p}"] for p in (1, 2, 3)})
    out = Path(args.out)
    print(write_table(results, out))
    bar_chart(results, out / "sweep_blocks.png", title=f"Residual blocks on {args.dataset} (test)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
