"""Zero-shot coding on CodiEsp by description matching alone: the whole terminology as the label
set (ICD-10-CM for task D), every code scored for each test note by the TF-IDF cosine between
the note and the code's description (``jlan_tf.studies.zero_shot``), nothing trained.

    python experiments/zero_shot.py --root ../shared/data/codiesp --out results/codiesp_official/zero_shot_descriptions_en.json

Prints, for the test codes that no training or dev note has (``unseen``) and for the others
(``seen``), the share of gold (note, code) pairs ranked within 15, 100 and 1,000 of the
terminology's codes, their median rank, chance (k / codes), and the ranking's official CodiEsp
MAP over all gold codes. English only: the descriptions are ICD-10-CM's English ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from jlan_tf.codiesp_task import official_map
from jlan_tf.data.codiesp import read_codiesp
from jlan_tf.data.documents import DataError
from jlan_tf.studies.zero_shot import description_scores, gold_ranks, recall_report, seen_codes, unique_codes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="the CodiEsp release (train/ dev/ [test/])")
    parser.add_argument("--task", choices=["D", "P"], default="D")
    parser.add_argument("--out", help="also write the report as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        splits, descriptions, codes, settings = read_codiesp(args.root, "en", args.task, label_space="terminology")
    except DataError as e:
        print(f"zero_shot.py: error: {e}", file=sys.stderr)
        return 2
    test = splits["test"]
    gold = unique_codes(doc.codes for doc in test)
    scores = description_scores([d.text for d in test], [descriptions.get(c, "") for c in codes],
                                [d.text for d in splits["train"]])
    report = recall_report(gold_ranks(scores, codes, gold), gold, seen_codes(splits), len(codes))
    report["codiesp_map"] = official_map({d.id: list(d.codes) for d in test}, [d.id for d in test], scores, codes)
    report["command"] = "python experiments/zero_shot.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report["settings"] = {**settings, "test_notes": len(test)}
    text = json.dumps(report, indent=1, sort_keys=True)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
