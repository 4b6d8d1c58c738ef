"""Evidence as each token's contribution to a code's score, not only its attention weight.

Every model of the harness pools, per label, the token features it attends over with one
weight per token: ``V_l = s * sum_t w_lt h_t`` (JLAN: ``w`` = joint fusion's mix of the two
maps, ``s`` = ``study.fusion_scale``; the baselines: their one map). Attention says how much
of token t enters ``V_l``, not whether it pushes the code's score up or down. The
contribution ``c_lt = w_lt * (h_t . dlogit_l / dV_l)`` is the first-order (gradient x input)
share of token t in ``logit_l``: with a linear output (CAML, MultiResCNN, LAAT) it is exact,
``sum_t c_lt = logit_l - bias_l`` (with ``model.lexical_output``, each token's exact share of the
TF-IDF part is added: the sum stays exact); through JLAN's shared tanh layer it is the linearisation at
the note's own ``V``, with the joint-fusion gate held fixed. Ranking a code's tokens by ``c``
is the ``contribution`` evidence of ``experiments/evidence_quality.py``.

``input_contributions`` goes down to the words themselves: ``e_t . dlogit_l / de_t`` (gradient x
input at the word vectors), which credits the word at position t rather than the contextual
feature ``h_t`` that mixes its neighbours in; ``evidence_quality.py`` scores it alone
(``input``) and times the attention weight (``attention_input``, after Edin et al. 2024's
AttInGrad).

``occlusion`` measures instead of linearising: how much each code's logit falls when one token
is deleted from the note (the note re-read without it). It costs one forward pass per token,
so ``evidence_quality.py`` asks it only about a few candidate positions.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from jlan_tf.candidates import has_lexical

_ATTENDED = {"jlan": "dual_attention"}  # the layer whose input is the attended token features h


def probe_model(model: keras.Model) -> keras.Model:
    attended = model.get_layer(_ATTENDED.get(model.name, "label_attention"))
    if model.name == "jlan" and model.get_layer("joint_fusion").mode == "concat":
        raise ValueError("token contributions need a fusion that adds the two views (not model.fusion=concat)")
    h = attended.input[0] if isinstance(attended.input, (list, tuple)) else attended.input  # (h, mask) for baselines
    return keras.Model(model.inputs, [h, model.get_layer("output").input, model.output])


def contributions_from(model: keras.Model, tokens, h, v, outputs: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """From the token ids (B, T) and a probe's outputs on them (``probe_model``): the mixed
    attention weights (B, L, T) and the token contributions (B, L, T), float32 tensors; works
    eagerly and inside a ``tf.function``. With ``model.lexical_output`` each token's exact share
    of the TF-IDF part (``LexicalOutput.token_contributions``) is added to its contribution."""
    v = tf.cast(v, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(v)
        total = tf.reduce_sum(model.get_layer("output")(v))  # logit_l depends on V_l only: one gradient gives all
    grad = tape.gradient(total, v)[..., :h.shape[-1]]                   # (B, L, H); JointLAAT: M, not p
    projected = tf.einsum("blh,bth->blt", grad, tf.cast(h, tf.float32))  # (B, L, T)
    fusion = tf.cast(outputs["fusion_weights"], tf.float32)
    weights = fusion[..., :1] * outputs["self_attention"] + fusion[..., 1:] * outputs["label_attention"]
    joint = model.name == "jlan" and model.get_layer("joint_fusion").mode == "joint"
    scale = model.get_layer("joint_fusion").scale if joint else 1.0
    contributions = scale * weights * projected
    if has_lexical(model):
        contributions += model.get_layer("lexical_output").token_contributions(tokens)
    return weights, contributions


def token_contributions(model: keras.Model, tokens: np.ndarray, probe: keras.Model | None = None) -> dict:
    """For a batch of token ids (B, T): ``logits`` (B, L), ``weights`` (B, L, T) (the mix the
    ``explain`` signature shows, before it divides by the fusion weights' sum) and
    ``contributions`` (B, L, T), all NumPy float32. ``probe``: ``probe_model(model)``, reused over batches."""
    h, v, outputs = (probe or probe_model(model))({"tokens": tokens}, training=False)
    weights, contributions = contributions_from(model, tokens, h, v, outputs)
    return {"logits": np.asarray(outputs["logits"], np.float32), "weights": weights.numpy(),
            "contributions": contributions.numpy()}


def input_contributions(model: keras.Model, tokens: np.ndarray, labels) -> np.ndarray:
    """One note's tokens (1, T) and some label indices: (len(labels), T) float32, the gradient x
    input ``e_t . dlogit_l / de_t`` of each token's word vector (one forward pass, one backward
    pass per label)."""
    table = model.get_layer("embedding").embeddings
    tokens = np.asarray(tokens, np.int32)
    if tokens.ndim != 2 or tokens.shape[0] != 1:
        raise ValueError(f"input_contributions takes one note, tokens of shape (1, T); got {tokens.shape}")
    labels = [int(label) for label in labels]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(table.value)  # also when the word vectors are frozen (model.train_embeddings=false)
        logits = model({"tokens": tokens}, training=False)["logits"]
        picked = [logits[0, label] for label in labels]
    vectors = tf.gather(tf.convert_to_tensor(table), tokens[0])                       # (T, E)
    out = np.zeros((len(labels), tokens.shape[1]), np.float32)
    for i, value in enumerate(picked):
        grad = tape.gradient(value, table.value)  # IndexedSlices: one row per position, in order
        rows = grad.values if isinstance(grad, tf.IndexedSlices) else tf.gather(grad, tokens[0])
        if rows.shape[0] != tokens.shape[1]:
            raise ValueError("the word vectors are read elsewhere in the model too: no per-position gradient")
        out[i] = tf.reduce_sum(tf.cast(rows, tf.float32) * tf.cast(vectors, tf.float32), axis=-1).numpy()
    del tape
    return out


def occlusion(model: keras.Model, tokens: np.ndarray, positions, batch_size: int = 16) -> np.ndarray:
    """One note's tokens (1, T) and some positions: (len(positions), L) float32, the fall of
    every code's logit when the token at each position is deleted (``logit(note) -
    logit(note without it)``). The shortened notes are padded to the note's own width (padding
    changes no output) and run in batches of ``batch_size``, so the shapes stay few."""
    tokens = np.asarray(tokens, np.int32)
    if tokens.ndim != 2 or tokens.shape[0] != 1:
        raise ValueError(f"occlusion takes one note, tokens of shape (1, T); got {tokens.shape}")
    words = tokens[0][tokens[0] != 0]
    positions = [int(p) for p in positions]
    if any(not 0 <= p < len(words) for p in positions):
        raise ValueError(f"positions must index the note's {len(words)} tokens, got {positions}")
    rows = np.zeros((-(-(len(positions) + 1) // batch_size) * batch_size, tokens.shape[1]), np.int32)
    rows[0, :len(words)] = words
    for i, p in enumerate(positions, start=1):
        rows[i, :len(words) - 1] = np.delete(words, p)
    logits = np.concatenate([np.asarray(model({"tokens": rows[i:i + batch_size]}, training=False)["logits"], np.float32)
                             for i in range(0, len(rows), batch_size)])
    return logits[0] - logits[1:len(positions) + 1]
