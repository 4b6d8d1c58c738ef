"""How much of the code descriptions a prepared folder's vocabulary knows: the share of
description tokens that are vocabulary words, and of codes with at least one such word. The
description-based label queries and output scorer see only those words (the others are UNK).

    python experiments/description_coverage.py data/codiesp_en_D_topall data/codiesp_es_D_topall
"""

import argparse
import json
import sys

from jlan_tf.data.prepared import load_prepared
from jlan_tf.tokenization import tokenize


def coverage(folder: str) -> dict:
    data = load_prepared(folder)
    words = set(data.vocab.tokens)
    tokens = [tokenize(description) for description in data.descriptions]
    known = [sum(t in words for t in description) for description in tokens]
    return {"folder": folder, "labels": data.num_labels,
            "description_tokens_known": sum(known) / max(sum(map(len, tokens)), 1),
            "labels_with_a_known_word": sum(k > 0 for k in known) / max(len(known), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="prepared folders")
    for folder in parser.parse_args(argv).folders:
        print(json.dumps(coverage(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
