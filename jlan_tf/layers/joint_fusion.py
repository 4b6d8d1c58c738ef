import keras
from keras import ops

FUSION_MODES = ("joint", "sum", "self_only", "label_only", "concat")


@keras.saving.register_keras_serializable(package="jlan_tf")
class JointFusion(keras.layers.Layer):
    """Fuses the self-attention and label-attention views of each label ("joint learning").

    `joint`: `alpha = sigmoid(M_s w_3 + b_3)`, `beta = sigmoid(M_l w_4 + b_4)` per document
    and label, normalised to `alpha' = alpha / (alpha + beta)`, `beta' = 1 - alpha'` (so
    `0 < alpha' + beta' <= 1` holds as the paper asks), and `V = alpha' M_s + beta' M_l`.
    The ablation variants: `sum` (`V = M_s + M_l`, no learned weights), `self_only`
    (`V = M_s`), `label_only` (`V = M_l`) and `concat` (`V = [M_s; M_l]`).
    Build it with `dtype="float32"` under mixed precision: the fusion is computed in float32.

    Two options for `joint`, off by default (the paper's form): `scale` multiplies `V`
    (`scale=2` makes `V = 2 (alpha' M_s + beta' M_l)`, which equals the plain sum `M_s + M_l`
    while the gate is still at `alpha' = 0.5`, as it is for hundreds of steps after
    initialisation: the paper's form starts as *half* the sum, a smaller input to the same
    output layer); `label_bias` gives each label its own gate biases `b_3`, `b_4` instead of
    one scalar per view (the paper motivates the gate by rare codes, which one shared bias
    cannot favour).

    Args:
        mode: string. One of `joint`, `sum`, `self_only`, `label_only`, `concat`.
        scale: float. Factor on `V` for `joint` (default 1: the paper).
        label_bias: bool. Per-label gate biases for `joint` (default False: the paper).
        **kwargs: other keyword arguments for `keras.layers.Layer`.

    Call arguments:
        inputs: a pair `(M_s, M_l)` of tensors `(batch, labels, hidden)`.

    Returns:
        A pair `(V, weights)`: `V` of shape `(batch, labels, hidden)` (`2 * hidden` for
        `concat`) and `weights` `(batch, labels, 2)`, the weights given to each view
        (`[alpha', beta']` for `joint`; fixed 0/1 values for the variants).

    Example:
    >>> fusion = JointFusion(mode="joint")
    >>> v, weights = fusion((keras.random.normal((2, 3, 4)), keras.random.normal((2, 3, 4))))
    >>> v.shape, weights.shape
    ((2, 3, 4), (2, 3, 2))

    Reference: Li, Zhang et al., BMC Bioinformatics 22:590, 2021, section "Joint learning".
    """

    def __init__(self, mode="joint", scale=1.0, label_bias=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in FUSION_MODES:
            raise ValueError(f"mode must be one of {FUSION_MODES}, got {mode!r}")
        self.mode, self.scale, self.label_bias = mode, float(scale), bool(label_bias)

    def build(self, input_shape):
        labels, hidden = input_shape[0][-2], input_shape[0][-1]
        if self.mode == "joint":
            bias_shape = (labels, 1) if self.label_bias else (1,)
            self.w_self = self.add_weight(name="w_self", shape=(hidden, 1), initializer="glorot_uniform")
            self.b_self = self.add_weight(name="b_self", shape=bias_shape, initializer="zeros")
            self.w_label = self.add_weight(name="w_label", shape=(hidden, 1), initializer="glorot_uniform")
            self.b_label = self.add_weight(name="b_label", shape=bias_shape, initializer="zeros")

    def call(self, inputs, labels=None):
        """With `labels` (B, C) int indices, the views are those labels' (B, C, hidden)."""
        m_self, m_label = inputs
        ones = ops.ones_like(m_self[..., :1])
        if self.mode == "joint":
            b_self, b_label = self.b_self, self.b_label
            if labels is not None and self.label_bias:
                b_self, b_label = ops.take(b_self, labels, axis=0), ops.take(b_label, labels, axis=0)
            alpha = ops.sigmoid(ops.matmul(m_self, self.w_self) + b_self)          # (B, l, 1)
            beta = ops.sigmoid(ops.matmul(m_label, self.w_label) + b_label)
            alpha = alpha / (alpha + beta)
            v = alpha * m_self + (1.0 - alpha) * m_label
            return (v if self.scale == 1.0 else self.scale * v), ops.concatenate([alpha, 1.0 - alpha], -1)
        if self.mode == "sum":
            return m_self + m_label, ops.concatenate([ones, ones], -1)
        if self.mode == "self_only":
            return m_self, ops.concatenate([ones, 0 * ones], -1)
        if self.mode == "label_only":
            return m_label, ops.concatenate([0 * ones, ones], -1)
        return ops.concatenate([m_self, m_label], -1), ops.concatenate([ones, ones], -1)

    def compute_output_shape(self, input_shape):
        batch, labels, hidden = input_shape[0]
        return (batch, labels, 2 * hidden if self.mode == "concat" else hidden), (batch, labels, 2)

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, scale=self.scale, label_bias=self.label_bias)
        return config
