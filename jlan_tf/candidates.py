"""Serving many codes fast: the network scores only each note's likeliest codes.

At MIMIC-III-full's 8,921 codes, a note's two attention views over every code cost about 30
GFLOP, most of a request's time. With ``candidates=C`` the SavedModel's ``serving_default``
first ranks every code by a first stage that costs almost nothing: the model's own TF-IDF part
plus each code's output bias (the model's score with the network's views left out). It then runs
the attention, the fusion and the output for each note's C first-stage codes only
(``projected_scores.logits``; ``candidate_logits`` for the models it does not apply to): their
probabilities are the full model's, to float rounding; every other code gets probability 0.
A code outside a note's candidates cannot be predicted for that note: ``first_stage_recall``
measures how often a split's gold codes fall outside, and ``restrict`` gives the
probabilities serving would return, so a run's metrics can be computed for any C.

Needs JLAN with its TF-IDF part (``model.lexical_output``, the default); exports of other
models serve every code. ``explain`` always scores every code.

**Chosen per run, on its dev split** (``choose_count``): above ``CANDIDATES_ABOVE`` codes,
training measures, for each C of ``AUTO_COUNTS``, how many of the codes the exact model serves
for each dev note (its ``AUTO_TOP_K`` top codes and every code at or above the dev-tuned
threshold) are among the note's C first-stage codes, and records the smallest C that keeps
``AUTO_AGREEMENT`` of them in ``metrics.json`` (``"candidates"``; 0 where none does: every
code). The export serves that C (``jlan-export --candidates auto``, the default; an integer
forces one). Why not a fixed C: on CodiEsp's 1,767 codes the first stage at initialisation
(TF-IDF + LR) keeps only 60 % (dev) to 72 % (test) of the gold pairs among each note's 200
first-stage codes, the same share of the label set as 1,024 of MIMIC-III-full's 8,921
(``experiments/candidates_recall.py``, ``results/candidates/codiesp_en_all.json``), and how a
trained model fares at MIMIC scale can only be measured on its own data.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from jlan_tf.tokenization import PAD_ID

# The scale check measures serving with SUGGESTED_CANDIDATES beside every code, above CANDIDATES_ABOVE codes.
CANDIDATES_ABOVE = 4096
SUGGESTED_CANDIDATES = 1024
# What training tries on its dev split above CANDIDATES_ABOVE codes (choose_count): the smallest
# count that keeps AUTO_AGREEMENT of the codes the exact model serves (its AUTO_TOP_K top codes,
# jlan-export's default --top-k, and those at or above the dev threshold).
AUTO_COUNTS = (256, 512, 1024, 2048)
AUTO_AGREEMENT = 0.995
AUTO_TOP_K = 10


def has_lexical(model) -> bool:
    """Whether the model has the TF-IDF part (``model.lexical_output``)."""
    return any(layer.name == "lexical_output" for layer in model.layers)


def supports_candidates(model) -> bool:
    return model.name == "jlan" and has_lexical(model)


def suggested_candidates(model) -> int:
    """SUGGESTED_CANDIDATES for a model that supports them with more than CANDIDATES_ABOVE codes, else 0."""
    labels = model.get_layer("output").num_labels
    return SUGGESTED_CANDIDATES if supports_candidates(model) and labels > CANDIDATES_ABOVE else 0


def first_stage_logits(model, tokens, lexical=None):
    """(B, L) float32: the TF-IDF part's logits plus each code's output bias."""
    lexical = model.get_layer("lexical_output")(tokens) if lexical is None else lexical
    return lexical + model.get_layer("output").label_bias


def first_stage_scores(model, data, split: str, batch_size: int) -> np.ndarray:
    """(N, L) the first stage's logits for a prepared split, in document order."""
    from jlan_tf.data.pipeline import eval_order, make_dataset

    ordered = np.concatenate([first_stage_logits(model, x["tokens"]).numpy()
                              for x, _ in make_dataset(data, split, batch_size)])
    scores = np.empty_like(ordered)
    scores[eval_order(data.splits[split])] = ordered
    return scores


def candidate_logits(model, encoder, tokens, count: int):
    """(B, L) logits: the model's for each note's ``count`` first-stage codes, -inf elsewhere,
    from the layers' own calls (``projected_scores.logits`` does the same with less arithmetic).
    ``encoder`` maps ``{"tokens": ids}`` to the attended features h (B, T, 2k)."""
    lexical = model.get_layer("lexical_output")(tokens)                          # (B, L)
    _, labels = tf.math.top_k(first_stage_logits(model, tokens, lexical), k=count)  # (B, C)
    h = encoder({"tokens": tokens}, training=False)
    m_self, m_label = model.get_layer("dual_attention").views_for(h, labels, mask=tokens != PAD_ID)
    v, _ = model.get_layer("joint_fusion")((m_self, m_label), labels=labels)
    logits = model.get_layer("output")(v, labels=labels) + tf.gather(lexical, labels, batch_dims=1)  # (B, C)
    return every_code(logits, labels, lexical)


def every_code(chosen, labels, like):
    """(B, L) float32: the (B, C) logits ``chosen`` of the codes ``labels`` (B, C) in their
    places, -inf elsewhere; ``like`` (B, L) gives the shape."""
    rows = tf.broadcast_to(tf.range(tf.shape(labels)[0])[:, None], tf.shape(labels))
    full = tf.fill(tf.shape(like), tf.constant(-np.inf, tf.float32))
    return tf.tensor_scatter_nd_update(full, tf.stack([rows, labels], -1), tf.cast(chosen, tf.float32))


def _top(first_stage: np.ndarray, count: int) -> np.ndarray:
    """(N, L) bool: each row's ``count`` highest first-stage codes."""
    top = np.argpartition(-first_stage, count - 1, axis=1)[:, :count]
    chosen = np.zeros(first_stage.shape, bool)
    np.put_along_axis(chosen, top, True, axis=1)
    return chosen


def restrict(probabilities: np.ndarray, first_stage: np.ndarray, count: int) -> np.ndarray:
    """The probabilities serving returns with ``count`` candidates: 0 outside each row's top
    ``count`` first-stage codes (ties broken as ``argpartition`` does; a measure, not the graph)."""
    if count <= 0 or count >= probabilities.shape[1]:
        return probabilities
    return np.where(_top(first_stage, count), probabilities, 0.0)


def first_stage_recall(labels: np.ndarray, first_stage: np.ndarray, count: int) -> float:
    """The share of gold (note, code) pairs whose code is among the note's ``count`` candidates."""
    gold = labels > 0.5
    if count >= labels.shape[1]:
        return 1.0
    return float((gold & _top(first_stage, count)).sum() / max(gold.sum(), 1))


def served_codes(scores: np.ndarray, top_k: int, threshold: float) -> np.ndarray:
    """(N, L) bool: the codes an export returns as a note's answer: its ``top_k`` highest scores
    and every score at or above ``threshold``."""
    k = min(top_k, scores.shape[1])
    served = scores >= threshold
    np.put_along_axis(served, np.argpartition(-scores, k - 1, axis=1)[:, :k], True, axis=1)
    return served


def agreement(exact: np.ndarray, first_stage: np.ndarray, count: int, top_k: int, threshold: float) -> float:
    """The share of the codes the exact model serves (``served_codes``) that are among each
    note's ``count`` first-stage codes: 1.0 means serving on candidates answers every note
    as the exact model does."""
    served = served_codes(exact, top_k, threshold)
    if count >= exact.shape[1]:
        return 1.0
    return float((served & _top(first_stage, count)).sum() / max(served.sum(), 1))


def choose_count(exact: np.ndarray, first_stage: np.ndarray, labels: np.ndarray, threshold: float,
                 counts=None, needed: float = AUTO_AGREEMENT, top_k: int = AUTO_TOP_K) -> dict:
    """The candidates a run's export serves, measured on its dev split: ``exact`` (N, L) the
    model's probabilities, ``first_stage`` (N, L) its first-stage scores, ``labels`` (N, L) the
    gold codes; ``counts`` default ``AUTO_COUNTS``. Returns metrics.json's ``"candidates"``:
    ``{"chosen": the smallest count whose agreement reaches needed (0: none, every code),
    "top_k", "threshold", "needed", "by_count": {count: {"agreement", "gold_recall"}}}``."""
    by_count = {int(c): {"agreement": agreement(exact, first_stage, c, top_k, threshold),
                         "gold_recall": first_stage_recall(labels, first_stage, c)}
                for c in (AUTO_COUNTS if counts is None else counts) if c < exact.shape[1]}
    chosen = next((c for c, measured in by_count.items() if measured["agreement"] >= needed), 0)
    return {"chosen": chosen, "top_k": top_k, "threshold": float(threshold), "needed": needed, "by_count": by_count}
