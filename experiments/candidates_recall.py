"""How much serving on first-stage candidates can lose (jlan_tf.candidates), on dev and test,
for several candidate counts C.

``--dataset PREPARED``: the first stage at initialisation, TF-IDF + LR's fit exactly (training
moves the output biases only; the TF-IDF part stays fixed), fitted here (17 s on CodiEsp): the
share of gold (note, code) pairs among each note's C first-stage codes, and the share of gold
pairs inside the label set (a code outside it is missed whatever C).

``--run RUN`` (a finished run of the default model, ``--run`` again for more): the trained
model's own first stage against its own scores (``predictions/``): the agreement training uses
to choose C (``candidates.choose_count``: the share of the codes the exact model serves, its 10
top codes and those at or above the dev threshold, that are among the candidates), the gold
recall, and the project's MAP and P@8 of the probabilities serving returns (``restrict``)
beside every code's MAP, for C at the same shares of the label set as ``--counts-of`` codes'
AUTO_COUNTS.

    python experiments/candidates_recall.py --dataset data/codiesp_en_D_all \\
        --out results/candidates/codiesp_en_all.json
    python experiments/candidates_recall.py --run results/tail_codiesp/runs/default-seed0 ... \\
        --out results/candidates/codiesp_en_trained.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from jlan_tf.candidates import AUTO_AGREEMENT, AUTO_COUNTS, AUTO_TOP_K, agreement, first_stage_recall, restrict
from jlan_tf.metrics import mean_average_precision, precision_at_k
from jlan_tf.studies.measure import machine


def at_initialisation(dataset: str, counts: list[int]) -> dict:
    from jlan_tf.data.prepared import load_prepared
    from jlan_tf.linear import FittedLR

    data = load_prepared(dataset)
    fitted = FittedLR(data)
    result = {"dataset": str(dataset), "labels": data.num_labels, "splits": {}}
    for split in ("dev", "test"):
        part = data.splits[split]
        y_true, scores = part.multi_hot(data.num_labels), fitted.scores(split)
        block = {"notes": len(part), "recall_at": {c: first_stage_recall(y_true, scores, c) for c in counts}}
        if part.gold_codes is not None:
            gold_pairs = sum(len(codes) for codes in part.gold_codes)
            block["gold_pairs_in_label_set"] = float(y_true.sum() / max(gold_pairs, 1))
        result["splits"][split] = block
    return result


def trained(run: str, counts_of: int) -> dict:
    import keras

    import jlan_tf.model  # noqa: F401  (registers the custom classes for load_model)
    from jlan_tf.candidates import first_stage_scores
    from jlan_tf.data.prepared import load_prepared
    from jlan_tf.run_folder import RunFolder

    folder = RunFolder(run)
    data = load_prepared(folder.read("data")["path"])
    model = keras.models.load_model(folder.model)
    threshold = folder.read("metrics")["dev"]["threshold"]
    counts = {c: max(1, round(c * data.num_labels / counts_of)) for c in AUTO_COUNTS}
    result = {"run": str(run), "labels": data.num_labels, "threshold": threshold,
              "counts": {f"{c} of {counts_of:,}": n for c, n in counts.items()}, "splits": {}}
    for split in ("dev", "test"):
        exact = np.load(folder.path / "predictions" / f"{split}_scores.npy")
        y_true = np.load(folder.path / "predictions" / f"{split}_true.npy")
        first = first_stage_scores(model, data, split, 64)
        result["splits"][split] = {"map_every_code": mean_average_precision(y_true, exact), "at": {
            n: {"agreement": agreement(exact, first, n, AUTO_TOP_K, threshold),
                "gold_recall": first_stage_recall(y_true, first, n),
                "map": mean_average_precision(y_true, restrict(exact, first, n)),
                "p_at_8": precision_at_k(y_true, restrict(exact, first, n), 8)} for n in counts.values()}}
    dev, test = result["splits"]["dev"], result["splits"]["test"]
    chosen = next((n for n, m in dev["at"].items() if m["agreement"] >= AUTO_AGREEMENT), 0)
    result["chosen_on_dev"] = chosen  # as training chooses (0: every code)
    if chosen:
        result["test_at_chosen"] = {"agreement": test["at"][chosen]["agreement"],
                                    "map_change": test["at"][chosen]["map"] - test["map_every_code"]}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="a prepared folder: the first stage at initialisation")
    source.add_argument("--run", action="append", help="a finished run of the default model (repeatable)")
    parser.add_argument("--counts", default="32,64,128,256,512,1024", help="--dataset: candidates per note")
    parser.add_argument("--counts-of", type=int, default=8921,
                        help="--run: C at the shares of this many codes that AUTO_COUNTS are (MIMIC-III-full's)")
    parser.add_argument("--out", help="write the JSON here")
    args = parser.parse_args(argv)
    if args.dataset:
        result = at_initialisation(args.dataset, [int(c) for c in args.counts.split(",")])
        for split, block in result["splits"].items():
            print(f"{split}: " + "  ".join(f"C={c} {r:.3f}" for c, r in block["recall_at"].items()))
    else:
        result = {"runs": [trained(run, args.counts_of) for run in args.run]}
        for one in result["runs"]:
            for split, block in one["splits"].items():
                print(f"{one['run']} {split}: MAP every code {block['map_every_code']:.4f}  " + "  ".join(
                    f"C={c} agreement {m['agreement']:.3f} recall {m['gold_recall']:.3f} MAP {m['map']:.4f}"
                    for c, m in block["at"].items()))
            print(f"{one['run']}: chosen on dev C={one['chosen_on_dev']}, test {one.get('test_at_chosen')}")
    result.update(machine=machine(), date=time.strftime("%Y-%m-%d"))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
