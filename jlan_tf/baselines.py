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
- ``jointlaat`` (the same paper's hierarchical JointLAAT): LAAT's encoder, then two levels of
  LAAT attention with their own ``W`` and ``U``: the parent codes (``code_parents``: the
  code before its dot, else its first three characters), whose probabilities are projected
  to ``parent_projection_dim`` units (no bias, sigmoid) and appended to every code's
  attention output before the code-level output. Output ``parent_logits`` (batch, parents);
  ``JLANModel`` adds the parents' mean BCE to the codes' (the parents' labels are derived
  from the codes' in the step). The parents' output biases start at ``1 - prod(1 - p)``
  over their codes' frequencies (as if independent).

Presets with the papers' sizes: ``config.PRESETS``. Differences from the PyTorch originals:
Keras' LSTM has one bias vector per gate where PyTorch has two; "same" padding keeps T
positions for even widths (CAML's width 10 gives T + 1 in PyTorch); the output biases start
at the codes' log-odds like JLAN's (``study.prior_bias``), a harness choice.
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


def code_parents(codes: list[str]) -> tuple[list[str], list[int]]:
    """JointLAAT's label hierarchy from the code strings: (the parent codes in order of first
    appearance, per code the index of its parent). A code's parent is the part before its
    dot (ICD-9 ``428.0`` and ``V45.81``, ICD-10-CM ``I25.10``); an undotted code's parent is
    its first three characters (ICD-10-PCS ``0DTJ4ZZ`` -> ``0DT``; ``E`` codes of ICD-9 its
    first four)."""
    parents: dict[str, int] = {}
    index = []
    for code in codes:
        code = code.strip()
        parent = code.split(".", 1)[0] if "." in code else code[:4 if code[:1] in "Ee" and code[1:4].isdigit() else 3]
        index.append(parents.setdefault(parent, len(parents)))
    return list(parents), index


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
    if arch in ("laat", "jointlaat"):
        return keras.layers.Bidirectional(FastLSTM(config.lstm_units, return_sequences=True, name="lstm"),
                                          name="bilstm")(x, mask=mask)
    raise ValueError(f"model.arch must be one of {ARCHS}, got {arch!r}")


def baseline_outputs(arch: str, config: ModelConfig, tokens, x, num_labels: int, num_parents: int = 0) -> dict:
    """The outputs dict of ``jlan_tf.model`` for a baseline, from the embedded, dropped-out
    tokens (``num_parents``: JointLAAT's parent codes)."""
    mask = ops.not_equal(tokens, 0)
    # Padding as zero vectors (as PyTorch's padding_idx) and no Keras mask on the convolutions.
    x = ops.multiply(x, ops.expand_dims(ops.cast(mask, x.dtype), -1))
    h = encode(arch, config, x, mask)
    projection = config.attention_dim if arch in ("laat", "jointlaat") else 0
    outputs = {}
    if arch == "jointlaat":
        if num_parents < 1:
            raise ValueError("jointlaat needs the parent of each code (build_jlan's label_parents)")
        m1, _ = LabelAttention(num_parents, projection, name="parent_attention")(h, mask=mask)
        outputs["parent_logits"] = LabelWiseOutput(num_parents, 0, dtype="float32", name="parent_output")(m1)
        p = keras.layers.Dense(config.parent_projection_dim, use_bias=False, activation="sigmoid",
                               name="parent_projection")(ops.sigmoid(outputs["parent_logits"]))  # (B, p)
    m, attention = LabelAttention(num_labels, projection, name="label_attention")(h, mask=mask)
    if arch == "jointlaat":
        p = ops.cast(ops.expand_dims(p, 1), m.dtype) * ops.ones_like(m[..., :1])            # (B, L, p)
        m = ops.concatenate([m, p], axis=-1)
    outputs["logits"] = LabelWiseOutput(num_labels, 0, dtype="float32", name="output")(m)
    # One map per label, shown as both views with equal weights: explain's mix is the map itself.
    weights = ops.full_like(ops.stack([attention[..., 0], attention[..., 0]], axis=-1), 0.5)
    return {**outputs, "self_attention": attention, "label_attention": attention, "fusion_weights": weights}


def parameter_count(arch: str, config: ModelConfig, vocab_size: int, embedding_dim: int, num_labels: int,
                    num_parents: int = 0) -> int:
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
    if arch == "jointlaat":
        u, d, q, P = config.lstm_units, config.attention_dim, config.parent_projection_dim, num_parents
        lstm = 2 * (4 * u * (e + u) + 4 * u)
        parents = 2 * u * d + P * d + (P * 2 * u + P) + P * q
        return embedding + lstm + parents + 2 * u * d + L * d + (L * (2 * u + q) + L)
    raise ValueError(f"not a baseline architecture: {arch!r}")
