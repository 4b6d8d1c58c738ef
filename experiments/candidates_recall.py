"""How much serving on first-stage candidates can lose (jlan_tf.candidates): the share of gold
(note, code) pairs among each note's C first-stage codes, on dev and test, for several C.

The first stage is the default model's TF-IDF part plus its output biases; at initialisation
that is TF-IDF + LR's fit exactly (training moves the biases only, the part stays fixed), which
this script fits (17 s on CodiEsp). Also prints the share of gold pairs inside the label set
(a code outside it is missed whatever C) and, for CodiEsp, LR's official MAP.

    python experiments/candidates_recall.py --dataset data/codiesp_en_D_all \\
        --out results/candidates/codiesp_en_all.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jlan_tf.candidates import first_stage_recall
from jlan_tf.data.prepared import load_prepared
from jlan_tf.linear import FittedLR
from jlan_tf.studies.measure import machine


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a prepared folder")
    parser.add_argument("--counts", default="32,64,128,256,512,1024", help="candidates per note, comma-separated")
    parser.add_argument("--out", help="write the JSON here")
    args = parser.parse_args(argv)
    data = load_prepared(args.dataset)
    fitted = FittedLR(data)
    counts = [int(c) for c in args.counts.split(",")]
    result = {"dataset": str(args.dataset), "labels": data.num_labels, "machine": machine(),
              "date": time.strftime("%Y-%m-%d"), "splits": {}}
    for split in ("dev", "test"):
        part = data.splits[split]
        y_true, scores = part.multi_hot(data.num_labels), fitted.scores(split)
        block = {"notes": len(part), f"recall_at": {c: first_stage_recall(y_true, scores, c) for c in counts}}
        if part.gold_codes is not None:
            gold_pairs = sum(len(codes) for codes in part.gold_codes)
            block["gold_pairs_in_label_set"] = float(y_true.sum() / max(gold_pairs, 1))
        result["splits"][split] = block
        print(f"{split}: " + "  ".join(f"C={c} {r:.3f}" for c, r in block["recall_at"].items())
              + (f"  (in label set: {block['gold_pairs_in_label_set']:.3f})" if "gold_pairs_in_label_set" in block else ""))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
