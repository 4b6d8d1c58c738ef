"""Span-lexicon baseline: what the coders' evidence spans give without any model (the control
for ``train.evidence_weight``, which trains JLAN on the same spans).

    python experiments/baseline_spans.py --dataset data/codiesp_es_D_top50

Every contiguous run of gold span tokens of a training (note, code) pair is a phrase of that
code (the CodiEsp organisers' baseline was such a dictionary lookup). A phrase's precision for
its code is ``(k + 0.5) / (n + 1)``: of the ``n`` training notes that contain it, ``k`` carry the
code. A note scores a code with the best precision among the code's phrases it contains (0 if
none). Metrics as for every model: 0.5 threshold and the dev-tuned one; CodiEsp's official MAP
(``codiesp_map``) where the folder keeps every note's gold codes.
"""

from __future__ import annotations

import argparse
import json
import sys

from jlan_tf import metrics
from jlan_tf.codiesp_task import add_official_map
from jlan_tf.data.prepared import DataError, PreparedDataset, load_prepared
from jlan_tf.studies.span_lexicon import SpanLexicon

def fit_and_score(data: PreparedDataset) -> dict:
    lexicon = SpanLexicon(data)
    dev_scores, test_scores = lexicon.scores("dev"), lexicon.scores("test")
    dev_true = data.splits["dev"].multi_hot(data.num_labels)
    threshold = metrics.tune_threshold(dev_true, dev_scores)
    test_true = data.splits["test"].multi_hot(data.num_labels)
    return {"dev": add_official_map(metrics.all_metrics(dev_true, dev_scores, threshold), data, "dev", dev_scores),
            "test": add_official_map(metrics.all_metrics(test_true, test_scores, threshold), data, "test", test_scores),
            "phrases": sum(len(v) for v in lexicon.by_code.values())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a prepared folder with evidence spans (CodiEsp, --lang es)")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON line")
    args = parser.parse_args(argv)
    try:
        result = fit_and_score(load_prepared(args.dataset))
    except DataError as e:
        print(f"baseline_spans.py: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(f"{result['phrases']} (phrase, code) entries from the training spans")
    for split in ("dev", "test"):
        official = f"  codiesp_map {result[split]['codiesp_map']:.4f}" if "codiesp_map" in result[split] else ""
        print(f"span lexicon {split:>5}: " + metrics.summary_line(result[split])
              + f"  micro_f1_tuned {result[split]['micro_f1_tuned']:.4f}" + official)
    return 0


if __name__ == "__main__":
    sys.exit(main())
