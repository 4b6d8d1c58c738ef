"""The long tail, scored as the CodiEsp task scores it: on all CodiEsp codes (the label set of the
training and dev notes, never test's), the default against the network alone
(``model.lexical_output=false``, the paper's output; a lever for the network's rare codes is one
more entry of VARIANTS), each over --seeds seeds, every setting as shipped otherwise (train.py's defaults: 20 epochs at
most, early stopping on dev MAP with patience 5). The tables hold the task's official MAP
(``codiesp_map``) beside the project's metrics, and ``--against-lr`` adds TF-IDF + LR (one fit
on the same prepared data).

Writes OUT/table.{md,csv} (test, mean ± std), OUT/paired_{dev,test}.md (every variant against
the network alone, 95 % intervals: choose on dev, report test once) and, with --against-lr,
OUT/against_lr_{dev,test}.md.

    python experiments/tail.py --dataset codiesp --data-dir ../shared/data/codiesp --against-lr
    # about 25 min a run on one core; two processes on 2 cores: --only-seeds 0,2,4 and
    # --only-seeds 1,3 (pinned with taskset -c 0 / -c 1), then --report-only --against-lr
    python experiments/tail.py --dataset codiesp --data-dir ../shared/data/codiesp --lang es --against-lr
"""

import sys

from jlan_tf.studies.runs import sweep

AS_SHIPPED = ["train.epochs=20", "train.patience=5", "train.select_on=map"]  # train.py's defaults
VARIANTS = {
    "network": ["model.lexical_output=false"],
    "default": [],
    # The ICD hierarchy: each code's output weights borrow a vector shared with its siblings.
    "network+parent": ["model.lexical_output=false", "study.output_parent_scorer=true"],
}


def main(argv=None) -> int:
    sweep(argv, __doc__, "tail", {name: AS_SHIPPED + overrides for name, overrides in VARIANTS.items()},
          "The long tail", reference="network")
    return 0


if __name__ == "__main__":
    sys.exit(main())
