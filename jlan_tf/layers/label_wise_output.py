import keras
from keras import ops


@keras.saving.register_keras_serializable(package="jlan_tf")
class LabelWiseOutput(keras.layers.Layer):
    """Label-wise scores from per-label document vectors (the paper's "sum-pooling").

    An optional shared dense layer is applied to every label's vector, then each label has
    its own weight vector: `logit_j = sum_f(V'_jf * W_jf) + b_j`. Build it with
    `dtype="float32"` so logits stay float32 under mixed precision.

    With `shared_scorer=True` each label's weight vector is a shared one plus its own
    offset, `W_j = w + D_j`, with `D_j` starting at 0: every label starts with the same
    scorer of its (label-specific, attended) vector and departs from it as far as its own
    examples pull it. Meant for long tails, where a code seen in one or two notes cannot
    learn a weight vector of its own (not in the paper: `model.output_shared_scorer`).

    Args:
        num_labels: int. Number of labels.
        hidden_dim: int. Units of the shared dense layer; 0 leaves it out.
        activation: string or callable. Activation of the shared dense layer.
        shared_scorer: bool. Label weights = a shared vector + per-label offsets (above).
        **kwargs: other keyword arguments for `keras.layers.Layer`.

    Call arguments:
        inputs: float tensor `(batch, labels, features)`.

    Returns:
        float tensor of logits `(batch, labels)`.

    Example:
    >>> output = LabelWiseOutput(num_labels=3, hidden_dim=8)
    >>> output(keras.random.normal((2, 3, 5))).shape
    (2, 3)
    """

    def __init__(self, num_labels, hidden_dim=256, activation="tanh", shared_scorer=False, **kwargs):
        super().__init__(**kwargs)
        self.num_labels = num_labels
        self.hidden_dim = hidden_dim
        self.shared_scorer = shared_scorer
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        features = input_shape[-1]
        self.shared = None
        if self.hidden_dim:
            self.shared = keras.layers.Dense(self.hidden_dim, activation=self.activation, name="shared",
                                             dtype=self.dtype_policy)
            self.shared.build(input_shape)
            features = self.hidden_dim
        self.label_weights = self.add_weight(name="label_weights", shape=(self.num_labels, features),
                                             initializer="zeros" if self.shared_scorer else "glorot_uniform")
        self.scorer = None
        if self.shared_scorer:
            self.scorer = self.add_weight(name="scorer", shape=(features,), initializer="glorot_uniform")
        self.label_bias = self.add_weight(name="label_bias", shape=(self.num_labels,), initializer="zeros")

    def call(self, inputs):
        x = inputs if self.shared is None else self.shared(inputs)        # (B, l, F)
        weights = self.label_weights if self.scorer is None else self.label_weights + self.scorer
        return ops.sum(x * weights, axis=-1) + self.label_bias             # (B, l)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, hidden_dim=self.hidden_dim,
                      activation=keras.activations.serialize(self.activation), shared_scorer=self.shared_scorer)
        return config
