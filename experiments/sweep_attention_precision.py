"""Label attention's chunks in bfloat16 (``model.attention_precision``) against float32, where
they apply: more codes than ``model.attention_chunk`` (MIMIC-III-full's 8,921 against chunks of
2,048). On the synthetic corpus (50 codes, 1,000 notes by default here) with chunks of 16 codes,
so that training takes the chunked path; every other setting as shipped.

Writes OUT/table.{md,csv} (test, mean ± std) and OUT/paired_{dev,test}.md (bfloat16 against
float32 over the same seeds, 95 % intervals: choose on dev).

    python experiments/sweep_attention_precision.py     # about 3 min a run on 2 cores
    # speed at MIMIC-III-full's shape: experiments/benchmark.py --set model.attention_precision=...
"""

import sys

from jlan_tf.studies.runs import sweep

CHUNKED = ["model.attention_chunk=16", "data.synthetic_docs=1000"]
VARIANTS = {"float32": CHUNKED + ["model.attention_precision=compute"],
            "bfloat16": CHUNKED + ["model.attention_precision=bfloat16"]}


def main(argv=None) -> int:
    sweep(argv, __doc__, "sweep_attention_precision", VARIANTS, "Chunked attention's precision", reference="float32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
