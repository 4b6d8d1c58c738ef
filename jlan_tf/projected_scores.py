"""JLAN's scores from the attended features with about a quarter less arithmetic than its
layers' own calls, and the same numbers (to float rounding).

JLAN's network computes, per code, the two views ``M = A H`` (``A`` the view's attention over
the tokens, ``H`` the BiLSTM's (tokens, 2k) states), fuses them and scores the result with the
output's shared dense layer ``tanh(V W + b)`` and the code's own vector. Everything ``M``
meets before that ``tanh`` is linear in it: the joint fusion's gates read ``M_s w_3`` and
``M_l w_4``, ``V`` mixes the two views, and ``V W`` projects it. So ``M W = A (H W)``:
projecting ``H`` once by ``[W | w_3 | w_4]`` (2k = 512 columns down to 256 + 2 by default)
before the attention's weighted sums gives the same logits from weighted sums half as wide.
At 8,921 codes and 2,500 tokens one note on every code then takes about three quarters of the
time (``experiments/benchmark.py --what serve --layers-calls`` for the layers' calls).

Used where only the scores are wanted: ``JLANModel.predict_step`` (evaluation, prediction),
the SavedModel's ``serving_default`` (every code, or each note's first-stage candidates:
``candidates``) and ``JLANModel.train_step`` where the attention runs in chunks (more codes than
``model.attention_chunk``: no maps are kept there anyway) and the objective reads the logits and
the fusion weights only (no span supervision, no JointLAAT parents): the chunks' weighted
sums (``DualAttention.weighted_sums``) keep the same two softmaxes for the backward pass, and
the gradients are the layers' to float rounding (tested). ``explain`` uses the layers' calls
(it needs the views and the maps). Models it does not apply to (the baselines,
``model.fusion=concat``, ``model.output_hidden_dim=0``) keep the layers' calls: ``supports``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from jlan_tf.candidates import every_code, first_stage_logits, has_lexical
from jlan_tf.layers.dual_attention import resolve_chunk_dtype
from jlan_tf.tokenization import PAD_ID

DEFAULT_CHUNK = 2048  # codes at a time when the attention layer has no label_chunk of its own


def supports(model) -> bool:
    """JLAN whose fusion adds the views (not ``concat``) and whose output has its shared dense layer."""
    if model.name != "jlan":
        return False
    return model.get_layer("joint_fusion").mode != "concat" and model.get_layer("output").hidden_dim > 0


def encoder_of(model) -> keras.Model:
    """The model's inputs -> the attended features ``H`` (B, T, 2k): shares the model's layers."""
    return keras.Model(model.inputs, model.get_layer("bilstm").output)


def network_logits(model, h, tokens, labels=None, training=False):
    """(B, L) float32 logits of the network (the TF-IDF part left out) from ``H`` (B, T, 2k) and
    the token ids (B, T), and the fusion weights (B, L, 2); with ``labels`` (B, C) int indices,
    those codes' (B, C) and (B, C, 2).
    ``training``: the attention's chunks as training runs them (``DualAttention.weighted_sums``:
    ``model.attention_precision``, the backward pass that keeps two softmaxes a chunk)."""
    attention, fusion, output = (model.get_layer(name) for name in ("dual_attention", "joint_fusion", "output"))
    mask = tokens != PAD_ID
    dense = output.shared
    columns = [dense.kernel, fusion.w_self, fusion.w_label] if fusion.mode == "joint" else [dense.kernel]
    projected = ops.matmul(h, ops.cast(ops.concatenate(columns, axis=1), h.dtype))  # (B, T, F [+ 2])
    weights, bias = output.label_weight_matrix(), output.label_bias
    if labels is None:
        dtype = resolve_chunk_dtype(attention.chunk_dtype) if training else None
        chunk = attention.label_chunk or (None if training else DEFAULT_CHUNK)
        p_self, p_label = attention.weighted_sums(h, projected, mask, dtype, chunk)
        return _head(fusion, dense, p_self, p_label, weights, bias)
    p_self, p_label = attention.views_for(h, labels, mask, values=projected)       # (B, C, F [+ 2])
    take = lambda x: ops.take(x, labels, axis=0)                                    # (B, C, ...)
    return _head(fusion, dense, p_self, p_label, take(weights), take(bias), labels)


def _head(fusion, dense, p_self, p_label, weights, bias, labels=None):
    """Logits from the two projected views (the fusion, the shared layer's bias and activation,
    the codes' vectors) and the weights given to each view (``JointFusion``'s second output);
    ``labels`` (B, C): the views are those codes' (per-code gate biases taken for them)."""
    units = dense.units
    p_self, p_label = ops.cast(p_self, "float32"), ops.cast(p_label, "float32")
    if fusion.mode == "joint":
        b_self, b_label = fusion.b_self, fusion.b_label
        if fusion.label_bias and labels is not None:  # (L, 1) -> each note's codes (B, C, 1)
            b_self, b_label = (ops.take(b, labels, axis=0) for b in (b_self, b_label))
        alpha = ops.sigmoid(p_self[..., units:units + 1] + b_self)
        beta = ops.sigmoid(p_label[..., units + 1:] + b_label)
        alpha = alpha / (alpha + beta)
        mixed = fusion.scale * (alpha * p_self[..., :units] + (1.0 - alpha) * p_label[..., :units])
        given = ops.concatenate([alpha, 1.0 - alpha], -1)
    else:
        mixed = {"sum": p_self + p_label, "self_only": p_self, "label_only": p_label}[fusion.mode]
        ones = ops.ones_like(p_self[..., :1])
        given = ops.concatenate({"sum": [ones, ones], "self_only": [ones, 0 * ones],
                                 "label_only": [0 * ones, ones]}[fusion.mode], -1)
    x = mixed + dense.bias if dense.use_bias else mixed
    return ops.sum(dense.activation(x) * weights, axis=-1) + bias, given


def trains_projected(model) -> bool:
    """Whether training may score this way: ``supports`` and the attention in chunks (more
    codes than ``model.attention_chunk``), where training returns no attention maps anyway
    (``JLANModel.set_objective`` adds: an objective that reads no maps and no parents)."""
    attention = model.get_layer("dual_attention") if supports(model) else None
    return attention is not None and 0 < attention.label_chunk < attention.num_labels


def logits(model, encoder, tokens, count: int = 0):
    """(B, L) float32 logits of the whole model (the TF-IDF part included, where the model has
    one): every code's, or with ``count`` each note's ``count`` first-stage codes'
    (``candidates.first_stage_logits``) and -inf elsewhere. ``encoder`` maps ``{"tokens": ids}``
    to ``H`` (``encoder_of``, or the serving's twin with the fused BiLSTM kernel)."""
    lexical = _lexical(model, tokens)                                               # (B, L) or None
    h = encoder({"tokens": tokens}, training=False)
    if not count:
        network = network_logits(model, h, tokens)[0]
        return network if lexical is None else network + lexical
    _, labels = tf.math.top_k(first_stage_logits(model, tokens, lexical), k=count)  # (B, C)
    chosen = network_logits(model, h, tokens, labels)[0] + tf.gather(lexical, labels, batch_dims=1)
    return every_code(chosen, labels, lexical)


def training_outputs(model, tokens) -> dict:
    """What ``JLANModel.train_step`` reads of ``model(x, training=True)`` where ``trains_projected``:
    ``logits`` (B, L) float32 (the TF-IDF part included) and ``fusion_weights`` (B, L, 2)."""
    network, fusion_weights = network_logits(model, encoder_of(model)({"tokens": tokens}, training=True), tokens,
                                             training=True)
    lexical = _lexical(model, tokens)
    return {"logits": network if lexical is None else network + lexical, "fusion_weights": fusion_weights}


def _lexical(model, tokens):
    """The TF-IDF part's logits (B, L), or None for a model without one."""
    if has_lexical(model):
        return model.get_layer("lexical_output")(tokens)
    return None
