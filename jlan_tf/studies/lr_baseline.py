"""TF-IDF + LR as a baseline (``experiments/baseline_lr.py``, the studies' "against LR" rows):
its metrics on dev and test, and the floor of the codes' frequencies alone."""

from __future__ import annotations

import numpy as np

from jlan_tf import metrics
from jlan_tf.codiesp_task import add_official_map, write_prediction_file
from jlan_tf.data.prepared import PreparedDataset
from jlan_tf.linear import FittedLR


def fit_and_score(data: PreparedDataset, c: float = 10.0, seed: int = 0, prediction_file=None) -> dict:
    """The metrics of ``baseline_lr.py``; with ``prediction_file``, the test split's scores are
    also written as the CodiEsp task's prediction file (``codiesp_task``)."""
    fitted = FittedLR(data, c, seed)
    scores = fitted.scores
    dev_scores, test_scores = scores("dev"), scores("test")
    if prediction_file:
        write_prediction_file(prediction_file, data.splits["test"].ids, test_scores, list(data.codes))
    dev_true = data.splits["dev"].multi_hot(data.num_labels)
    threshold = metrics.tune_threshold(dev_true, dev_scores)
    test_block = metrics.all_metrics(data.splits["test"].multi_hot(data.num_labels), test_scores, threshold)
    result = {"dev": add_official_map(metrics.all_metrics(dev_true, dev_scores, threshold), data, "dev", dev_scores),
              "test": add_official_map(test_block, data, "test", test_scores),
              # How large LR's weights grow (the size study.lexical_scale is set against): per code
              # seen in training its largest |weight|, the median over those codes.
              "largest_weight_median": float(np.median(np.abs(fitted.coefficients()[fitted.present]).max(axis=1)))}
    # The floor: every note scored with the codes' training frequencies.
    y_train = data.splits["train"].multi_hot(data.num_labels)
    priors = np.tile(y_train.mean(axis=0), (len(data.splits["test"]), 1))
    result["test_priors"] = add_official_map(
        metrics.all_metrics(data.splits["test"].multi_hot(data.num_labels), priors, threshold), data, "test", priors)
    if data.has_clean_labels:
        result["test_clean"] = metrics.all_metrics(data.splits["test"].multi_hot(data.num_labels, clean=True),
                                                   test_scores, threshold)
    return result
