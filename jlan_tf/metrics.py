"""ICD-coding metrics over NumPy arrays: ``y_true`` (documents x labels, 0/1) and
``y_score`` (same shape, probabilities). Two families, each under an explicit name:

CAML's definitions (CAML, MultiResCNN, LAAT, PLM-ICD and JLAN report these), equal to
CAML's ``evaluation.py``: predictions are ``score >= threshold`` (0.5); macro precision and
recall are means over *all* labels of ``tp / (predicted + 1e-10)`` and ``tp / (true + 1e-10)``;
``macro_f1`` is their harmonic mean; micro scores pool every entry; ``macro_auc`` averages
ROC-AUC over labels with a positive and a negative; P@k / R@k rank each document's labels
(a document with no true code has R@k = 0). Two documented differences at edges CAML leaves
undefined: a score of exactly 0.5 is a positive (CAML's ``np.round`` makes it negative),
and a micro score with a zero denominator is 0 (CAML gives NaN).

Corrected definitions (Edin et al., SIGIR 2023): ``macro_f1_per_label`` is the mean of
per-label F1 over the labels present in ``y_true``.

Also ``map``: the mean over documents (with a true code in the label set) of the average
precision of the document's ranked labels. It ranks the model's label set only and divides by
the in-label true codes, so it is not the CodiEsp task's MAP; ``codiesp_map`` is (below).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

K_VALUES = (5, 8, 15)
REPORTED = ("micro_f1", "macro_f1", "macro_f1_per_label", "micro_auc", "macro_auc", "p_at_5", "p_at_8", "map")


def _divide(a, b):
    return float(a) / float(b) if b else 0.0


def _harmonic(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def binarize(y_score: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return (y_score >= threshold).astype(np.float64)


def micro_scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F1) over the flattened matrices."""
    tp = float((y_true * y_pred).sum())
    p, r = _divide(tp, y_pred.sum()), _divide(tp, y_true.sum())
    return p, r, _harmonic(p, r)


def macro_scores_caml(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """CAML's (precision, recall, F1): means over all labels, F1 = harmonic mean of the means."""
    tp = (y_true * y_pred).sum(axis=0)
    p = float(np.mean(tp / (y_pred.sum(axis=0) + 1e-10)))
    r = float(np.mean(tp / (y_true.sum(axis=0) + 1e-10)))
    return p, r, _harmonic(p, r)


def macro_f1_per_label(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-label F1 over the labels with at least one true document (Edin et al.)."""
    present = y_true.sum(axis=0) > 0
    if not present.any():
        return 0.0
    tp = (y_true * y_pred).sum(axis=0)[present]
    fp = ((1 - y_true) * y_pred).sum(axis=0)[present]
    fn = (y_true * (1 - y_pred)).sum(axis=0)[present]
    return float(np.mean(2 * tp / np.maximum(2 * tp + fp + fn, 1e-10)))


def _top_k(y_score: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(y_score)[:, ::-1][:, :k]  # CAML's ordering, ties included


def precision_at_k(y_true: np.ndarray, y_score: np.ndarray, k: int) -> float:
    if len(y_true) == 0:
        return 0.0
    top = _top_k(y_score, k)
    return float(np.mean(np.take_along_axis(y_true, top, axis=1).sum(axis=1) / top.shape[1]))


def recall_at_k(y_true: np.ndarray, y_score: np.ndarray, k: int) -> float:
    if len(y_true) == 0:
        return 0.0
    hits = np.take_along_axis(y_true, _top_k(y_score, k), axis=1).sum(axis=1)
    true = y_true.sum(axis=1)
    return float(np.mean(np.where(true > 0, hits / np.maximum(true, 1), 0.0)))


def macro_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean ROC-AUC over the labels with at least one positive and one negative document."""
    counts = y_true.sum(axis=0)
    usable = (counts > 0) & (counts < len(y_true))
    if not usable.any():
        return 0.0
    return float(np.mean([roc_auc_score(y_true[:, j], y_score[:, j]) for j in np.flatnonzero(usable)]))


def micro_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    flat = y_true.ravel()
    if flat.min(initial=0) == flat.max(initial=0):
        return 0.0
    return float(roc_auc_score(flat, y_score.ravel()))


def mean_average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean over documents with a true code of the average precision of their ranked labels."""
    precisions = []
    for truth, scores in zip(y_true, y_score):
        if truth.sum() == 0:
            continue
        ranked = truth[np.argsort(-scores, kind="stable")]
        hits = np.cumsum(ranked)
        precisions.append(float(np.sum(ranked * hits / np.arange(1, len(ranked) + 1)) / truth.sum()))
    return float(np.mean(precisions)) if precisions else 0.0


# CodiEsp-D/-P's official MAP (CLEF eHealth 2020), from the task's definition: each note's
# ranked codes are lower-cased, de-duplicated (first occurrence kept) and cut at 1,000; its
# average precision is the sum of the precision at each gold code's rank divided by *all* its
# gold codes (a gold code the list misses, e.g. one outside the model's label set, adds 0);
# the mean is over the notes of the prediction file that have a gold code (trec_eval's rule:
# a note left out of the file is left out of the mean, so a prediction file must list every
# note). ``ranked_codes`` turns scores into such lists: descending score, a tie broken in
# favour of the code listed first.
CODIESP_CUT = 1000


def ranked_codes(y_score: np.ndarray, codes: list[str], cut: int = CODIESP_CUT) -> list[list[str]]:
    """Each document's codes by descending score (ties: label order), at most ``cut`` of them."""
    order = np.argsort(-np.asarray(y_score), axis=1, kind="stable")[:, :cut]
    return [[codes[i] for i in row] for row in order]


def codiesp_average_precision(gold, ranked, cut: int = CODIESP_CUT) -> float:
    """One note's average precision by the task's rules (above); 0 for a note without gold codes."""
    gold = {code.lower() for code in gold}
    seen, hits, total = set(), 0, 0.0
    for code in ranked:
        code = code.lower()
        if code in seen:
            continue
        seen.add(code)
        if len(seen) > cut:
            break
        if code in gold:
            hits += 1
            total += hits / len(seen)
    return total / len(gold) if gold else 0.0


def codiesp_map(gold: dict, predicted: dict, cut: int = CODIESP_CUT) -> float:
    """The task's MAP: ``gold`` and ``predicted`` map note ids to codes (``predicted``'s ranked)."""
    notes = [note for note in predicted if gold.get(note)]
    return float(np.mean([codiesp_average_precision(gold[n], predicted[n], cut) for n in notes])) if notes else 0.0


def tune_threshold(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """The single threshold in 0.01..0.99 that maximises micro-F1 (the first of ties)."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    scores = [micro_scores(y_true, binarize(y_score, t))[2] for t in grid]
    return float(grid[int(np.argmax(scores))])


def all_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """Every metric of ``metrics.json``; ``threshold`` (tuned on dev) gives ``micro_f1_tuned``."""
    y_true = np.asarray(y_true, np.float64)
    y_score = np.asarray(y_score, np.float64)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise ValueError(f"y_true and y_score must be matrices of one shape, got {y_true.shape} and {y_score.shape}")
    y_pred = binarize(y_score)
    micro_p, micro_r, micro_f = micro_scores(y_true, y_pred)
    macro_p, macro_r, macro_f = macro_scores_caml(y_true, y_pred)
    result = {
        "micro_f1": micro_f, "micro_precision": micro_p, "micro_recall": micro_r,
        "macro_f1": macro_f, "macro_precision": macro_p, "macro_recall": macro_r,
        "macro_f1_per_label": macro_f1_per_label(y_true, y_pred),
        "micro_auc": micro_auc(y_true, y_score), "macro_auc": macro_auc(y_true, y_score),
        **{f"p_at_{k}": precision_at_k(y_true, y_score, k) for k in K_VALUES},
        **{f"r_at_{k}": recall_at_k(y_true, y_score, k) for k in K_VALUES},
        "map": mean_average_precision(y_true, y_score),
    }
    if threshold is not None:
        result["threshold"] = float(threshold)
        result["micro_f1_tuned"] = micro_scores(y_true, binarize(y_score, threshold))[2]
    return result


def summary_line(block: dict[str, float], keys: tuple[str, ...] = REPORTED) -> str:
    """One line of ``key value`` pairs, for the scripts' printed reports."""
    return "  ".join(f"{k} {block[k]:.4f}" for k in keys)


# Evidence: how well a ranking of a note's tokens finds the span a coder marked for a code.
EVIDENCE_K = (1, 3, 5)
EVIDENCE_REPORTED = ("hit_at_1", "hit_at_3", "precision_at_3", "recall_at_5", "average_precision")


def evidence_scores(weights: np.ndarray, gold: np.ndarray, ks: tuple[int, ...] = EVIDENCE_K) -> dict[str, float]:
    """One (note, code) pair: ``weights`` (tokens,) ranks the note's tokens (ties: earlier
    token first), ``gold`` holds the positions inside the coder's evidence span(s).

    ``hit_at_k``: 1 if a top-k token is in the gold span; ``precision_at_k``: the share of the
    top k that is (divided by k); ``recall_at_k``: the share of the gold tokens in the top k;
    ``average_precision``: over the whole ranking, the mean of the precision at each gold token.
    """
    weights, gold = np.asarray(weights, np.float64), np.unique(np.asarray(gold, np.int64))
    if not len(gold) or gold.min() < 0 or gold.max() >= len(weights):
        raise ValueError(f"gold positions must be 1+ indices into the {len(weights)} tokens, got {gold.tolist()}")
    relevant = np.zeros(len(weights), bool)
    relevant[gold] = True
    ranked = relevant[np.argsort(-weights, kind="stable")]
    out = {}
    for k in ks:
        hits = int(ranked[:k].sum())
        out[f"hit_at_{k}"] = float(hits > 0)
        out[f"precision_at_{k}"] = hits / k
        out[f"recall_at_{k}"] = hits / len(gold)
    found = np.flatnonzero(ranked) + 1  # the ranks of the gold tokens
    out["average_precision"] = float(np.mean(np.arange(1, len(found) + 1) / found))
    return out
