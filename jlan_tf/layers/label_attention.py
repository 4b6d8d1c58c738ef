import keras
from keras import ops

from jlan_tf.layers.dual_attention import masked_softmax


@keras.saving.register_keras_serializable(package="jlan_tf")
class LabelAttention(keras.layers.Layer):
    """Per-label attention over token positions, as the baselines use it.

    With `projection_dim=0` (CAML, MultiResCNN): `A = softmax_n(U H^T)`, `U` (labels x hidden).
    With `projection_dim=d` (LAAT): `A = softmax_n(U tanh(W H^T))`, `W` (d x hidden), `U`
    (labels x d), no biases. Each label's document vector is `M = A H`. The softmax is
    masked and in float32; `A` is also the evidence the model shows for each label.

    Args:
        num_labels: int. Number of labels (codes).
        projection_dim: int. Size `d` of LAAT's projection; 0 for CAML's plain queries.
        **kwargs: other keyword arguments for `keras.layers.Layer`.

    Call arguments:
        inputs: float tensor `H` of shape `(batch, tokens, hidden)`.
        mask: optional bool tensor `(batch, tokens)`, False at padding.

    Returns:
        A tuple `(M, A)`: `(batch, labels, hidden)` in the compute dtype and
        `(batch, labels, tokens)` in float32.

    Example:
    >>> attention = LabelAttention(num_labels=3, projection_dim=4)
    >>> m, a = attention(keras.random.normal((2, 7, 6)))
    >>> m.shape, a.shape
    ((2, 3, 6), (2, 3, 7))

    References: Mullenbach et al., "Explainable Prediction of Medical Codes from Clinical
    Text", NAACL 2018; Vu et al., "A Label Attention Model for ICD Coding from Clinical
    Text", IJCAI 2020.
    """

    def __init__(self, num_labels, projection_dim=0, **kwargs):
        super().__init__(**kwargs)
        self.num_labels = num_labels
        self.projection_dim = projection_dim
        self.supports_masking = True

    def build(self, input_shape):
        hidden = input_shape[-1]
        self.projection = None
        if self.projection_dim:
            self.projection = self.add_weight(name="projection", shape=(hidden, self.projection_dim),
                                              initializer="glorot_uniform")
        width = self.projection_dim or hidden
        self.queries = self.add_weight(name="queries", shape=(width, self.num_labels), initializer="glorot_uniform")

    def call(self, inputs, mask=None):
        h = inputs                                                          # (B, n, h)
        z = h if self.projection is None else ops.tanh(ops.matmul(h, self.projection))
        scores = ops.transpose(ops.matmul(z, self.queries), (0, 2, 1))      # (B, l, n)
        attention = masked_softmax(scores, mask)
        return ops.matmul(ops.cast(attention, h.dtype), h), attention

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        batch, tokens, hidden = input_shape
        return (batch, self.num_labels, hidden), (batch, self.num_labels, tokens)

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, projection_dim=self.projection_dim)
        return config
