"""Serving many codes fast: the network scores only each note's likeliest codes.

At MIMIC-III-full's 8,921 codes, a note's two attention views over every code cost about 30
GFLOP, most of a request's time. With ``candidates=C`` the SavedModel's ``serving_default``
first ranks every code by a first stage that costs almost nothing: the model's own TF-IDF part
plus each code's output bias (the model's score with the network's views left out). It then runs
the attention, the fusion and the output for each note's C first-stage codes only: their
probabilities are the full model's, to float rounding; every other code gets probability 0.
A code outside a note's candidates cannot be predicted for that note: ``first_stage_recall``
measures how often a split's gold codes fall outside, and ``restrict`` gives the
probabilities serving would return, so a run's metrics can be computed for any C.

Needs JLAN with its TF-IDF part (``model.lexical_output``, the default); exports of other
models serve every code. ``explain`` always scores every code.

Off by default (``jlan-export --candidates N`` turns it on): on CodiEsp's 1,767 codes the first
stage at initialisation (TF-IDF + LR) keeps only 60 % (dev) to 72 % (test) of the gold pairs
among each note's 200 first-stage codes, the same share of the label set as 1,024 of MIMIC-III-full's
8,921 (``experiments/candidates_recall.py``, ``results/candidates/codiesp_en_all.json``). How
much ranking quality that costs a trained model at MIMIC scale is not measured.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from jlan_tf.tokenization import PAD_ID

# The scale check measures serving with SUGGESTED_CANDIDATES beside every code, above CANDIDATES_ABOVE codes.
CANDIDATES_ABOVE = 4096
SUGGESTED_CANDIDATES = 1024


def supports_candidates(model) -> bool:
    return model.name == "jlan" and any(layer.name == "lexical_output" for layer in model.layers)


def suggested_candidates(model) -> int:
    """SUGGESTED_CANDIDATES for a model that supports them with more than CANDIDATES_ABOVE codes, else 0."""
    labels = model.get_layer("output").num_labels
    return SUGGESTED_CANDIDATES if supports_candidates(model) and labels > CANDIDATES_ABOVE else 0


def first_stage_logits(model, tokens, lexical=None):
    """(B, L) float32: the TF-IDF part's logits plus each code's output bias."""
    lexical = model.get_layer("lexical_output")(tokens) if lexical is None else lexical
    return lexical + model.get_layer("output").label_bias


def candidate_logits(model, encoder, tokens, count: int):
    """(B, L) logits: the model's for each note's ``count`` first-stage codes, -inf elsewhere.
    ``encoder`` maps ``{"tokens": ids}`` to the attended features h (B, T, 2k)."""
    lexical = model.get_layer("lexical_output")(tokens)                          # (B, L)
    _, labels = tf.math.top_k(first_stage_logits(model, tokens, lexical), k=count)  # (B, C)
    h = encoder({"tokens": tokens}, training=False)
    m_self, m_label = model.get_layer("dual_attention").views_for(h, labels, mask=tokens != PAD_ID)
    v, _ = model.get_layer("joint_fusion")((m_self, m_label), labels=labels)
    logits = model.get_layer("output")(v, labels=labels) + tf.gather(lexical, labels, batch_dims=1)  # (B, C)
    batch = tf.shape(labels)[0]
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(labels))
    full = tf.fill(tf.shape(lexical), tf.constant(-np.inf, tf.float32))
    return tf.tensor_scatter_nd_update(full, tf.stack([rows, labels], -1), tf.cast(logits, tf.float32))


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
