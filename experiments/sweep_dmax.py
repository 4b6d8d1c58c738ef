"""The default's truncation-loss rate D_max chosen on dev: the defaults with ``train.d_max`` in
0 (plain BCE), 0.05, 0.1 and 0.15 (the paper's), every other setting as shipped.

Writes OUT/table.{md,csv} (test metrics, mean ± std), OUT/paired_dev.md and OUT/paired_test.md
(each rate against D_max=0.1 over the same seeds, with 95 % intervals): choose on
``paired_dev.md``, report test once for the choice. ``sweep_tloss.py`` is the paper's table 3,
on the paper's form of the model.

    python experiments/sweep_dmax.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50
    # two processes on 2 cores: --only-seeds 0,2,4 and --only-seeds 1,3, then --report-only
"""

import sys

from jlan_tf.studies.runs import sweep

RATES = ("0", "0.05", "0.1", "0.15")


def main(argv=None) -> int:
    sweep(argv, __doc__, "sweep_dmax", {f"D_max={r}": [f"train.d_max={r}"] for r in RATES},
          "D_max under the defaults", reference="D_max=0.1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
