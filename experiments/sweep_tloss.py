"""The paper's table 3: the truncation loss D_max in 0, 0.05, 0.1, 0.15, 0.2, 0.3 (joint fusion).

Writes OUT/table.{md,csv} and OUT/sweep_tloss.png.

    python experiments/sweep_tloss.py                  # synthetic, small: ~25 min on 2 cores with --seeds 1
"""

import sys
from pathlib import Path

from _common import bar_chart, parser, run_all, write_table

RATES = ("0", "0.05", "0.1", "0.15", "0.2", "0.3")


def main(argv=None) -> int:
    args = parser(__doc__, "results/sweep_tloss").parse_args(argv)
    results = run_all(args, {f"D_max={r}": [f"train.d_max={r}"] for r in RATES})
    out = Path(args.out)
    print(write_table(results, out))
    bar_chart(results, out / "sweep_tloss.png", title=f"Truncation loss sweep on {args.dataset} (test)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
