"""The usual ICD-coding baselines as Keras models in JLAN's harness (``model.arch``).

Each takes the same inputs and gives the same outputs as JLAN (``jlan_tf.model``), so the
data, the training step (``JLANModel``: plain BCE unless ``train.d_max`` > 0), the metrics,
TensorBoard, the export and the evidence pages work unchanged. A baseline has one attention
map per label; it is returned as both ``self_attention`` and ``label_attention`` with fusion
weights (0.5, 0.5), so the ``explain`` signature shows exactly that map.

- ``caml`` (Mullenbach et al., NAACL 2018): embedding -> dropout -> Conv1D(``conv_filters``,
  width ``kernel_size``, "same" padding) -> tanh -> per-label attention ``softmax(U H^T)`` ->
  per-label output. CAML's description regulariser is not implemented.
- ``multirescnn`` (Li & Yu, AAAI 2020): six channels with filter widths 3, 5, 9, 15, 19, 25;
  each a Conv1D(embedding width) + tanh, then one residual block (two convolutions with
  batch norm, a 1x1 shortcut with batch norm, tanh) to ``conv_filters`` maps; the channels
  concatenated; CAML's attention and output over them.
- ``laat`` (Vu et al., IJCAI 2020): embedding -> dropout -> BiLSTM(``lstm_units`` per
  direction) -> ``softmax(U tanh(W H^T))`` (``attention_dim``) -> per-label output.

Presets with the papers' sizes: ``config.PRESETS``. Differences from the PyTorch originals:
Keras' LSTM has one bias vector per gate where PyTorch has two; "same" padding keeps T
positions for even widths (CAML's width 10 gives T + 1 in PyTorch); the output biases start
at the codes' log-odds like JLAN's (``model.prior_bias``), a harness choice.
"""

from __future__ import annotations

import keras
from keras import ops

from jlan_tf.config import ARCHS, ModelConfig
from jlan_tf.layers import FastLSTM, LabelAttention, LabelWiseOutput

MULTIRESCNN_WIDTHS = (3, 5, 9, 15, 19, 25)


def _residual_block(x, filters: int, width: int, name: str):
    """MultiResCNN's ResidualBlock: tanh(BN(conv(tanh(BN(conv(x))))) + BN(conv1x1(x)))."""
    conv = lambda size, suffix, inputs, n: keras.layers.Conv1D(n, size, padding="same", name=f"{name}_{suffix}")(inputs)
    bn = lambda suffix, inputs: keras.layers.BatchNormalization(name=f"{name}_{suffix}_bn")(inputs)
    left = keras.layers.Activation("tanh")(bn("a", conv(width, "a", x, filters)))
    left = bn("b", conv(width, "b", left, filters))
    shortcut = bn("shortcut", conv(1, "shortcut", x, filters))
    return keras.layers.Activation("tanh")(keras.layers.Add()([left, shortcut]))


def encode(arch: str, config: ModelConfig, x, mask):
    """The encoder of a baseline: (B, T, e) word vectors -> (B, T, h) token features."""
    if arch == "caml":
        return keras.layers.Conv1D(config.conv_filters, config.kernel_size, padding="same", activation="tanh",
                                   name="conv")(x)
    if arch == "multirescnn":
        channels = []
        for width in MULTIRESCNN_WIDTHS:
            base = keras.layers.Conv1D(x.shape[-1], width, padding="same", activation="tanh", name=f"conv{width}")(x)
            channels.append(_residual_block(base, config.conv_filters, width, f"residual{width}"))
        return keras.layers.Concatenate(name="channels")(channels)
    if arch == "laat":
        return keras.layers.Bidirectional(FastLSTM(config.lstm_units, return_sequences=True, name="lstm"),
                                          name="bilstm")(x, mask=mask)
    raise ValueError(f"model.arch must be one of {ARCHS}, got {arch!r}")


def baseline_outputs(arch: str, config: ModelConfig, tokens, x, num_labels: int) -> dict:
    """The outputs dict of ``jlan_tf.model`` for a baseline, from the embedded, dropped-out tokens."""
    mask = ops.not_equal(tokens, 0)
    # Padding as zero vectors (as PyTorch's padding_idx) and no Keras mask on the convolutions.
    x = ops.multiply(x, ops.expand_dims(ops.cast(mask, x.dtype), -1))
    h = encode(arch, config, x, mask)
    projection = config.attention_dim if arch == "laat" else 0
    m, attention = LabelAttention(num_labels, projection, name="label_attention")(h, mask=mask)
    logits = LabelWiseOutput(num_labels, 0, dtype="float32", name="output")(m)
    # One map per label, shown as both views with equal weights: explain's mix is the map itself.
    weights = ops.full_like(ops.stack([attention[..., 0], attention[..., 0]], axis=-1), 0.5)
    return {"logits": logits, "self_attention": attention, "label_attention": attention, "fusion_weights": weights}


def parameter_count(arch: str, config: ModelConfig, vocab_size: int, embedding_dim: int, num_labels: int) -> int:
    """Trainable parameters by the papers' formulas (with Keras' one LSTM bias per gate)."""
    e, f, k, L = embedding_dim, config.conv_filters, config.kernel_size, num_labels
    embedding = vocab_size * e
    if arch == "caml":
        return embedding + (k * e * f + f) + L * f + (L * f + L)
    if arch == "multirescnn":
        channel = lambda w: (w * e * e + e) + (w * e * f + f) + 2 * f + (w * f * f + f) + 2 * f + (e * f + f) + 2 * f
        width = len(MULTIRESCNN_WIDTHS) * f
        return embedding + sum(channel(w) for w in MULTIRESCNN_WIDTHS) + L * width + (L * width + L)
    if arch == "laat":
        u, d = config.lstm_units, config.attention_dim
        lstm = 2 * (4 * u * (e + u) + 4 * u)
        return embedding + lstm + 2 * u * d + L * d + (L * 2 * u + L)
    raise ValueError(f"not a baseline architecture: {arch!r}")
