import keras
from keras import ops


@keras.saving.register_keras_serializable(package="jlan_tf")
class LabelWiseOutput(keras.layers.Layer):
    """Label-wise scores from per-label document vectors (the paper's "sum-pooling").

    An optional shared dense layer is applied to every label's vector, then each label has
    its own weight vector: `logit_j = sum_f(V'_jf * W_jf) + b_j`. Build it with
    `dtype="float32"` so logits stay float32 under mixed precision.

    Args:
        num_labels: int. Number of labels.
        hidden_dim: int. Units of the shared dense layer; 0 leaves it out.
        activation: string or callable. Activation of the shared dense layer.
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

    def __init__(self, num_labels, hidden_dim=256, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.num_labels = num_labels
        self.hidden_dim = hidden_dim
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
                                             initializer="glorot_uniform")
        self.label_bias = self.add_weight(name="label_bias", shape=(self.num_labels,), initializer="zeros")

    def call(self, inputs):
        x = inputs if self.shared is None else self.shared(inputs)        # (B, l, F)
        return ops.sum(x * self.label_weights, axis=-1) + self.label_bias  # (B, l)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, hidden_dim=self.hidden_dim,
                      activation=keras.activations.serialize(self.activation))
        return config
