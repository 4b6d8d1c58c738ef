import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="jlan_tf")
class LabelWiseOutput(keras.layers.Layer):
    """Label-wise scores from per-label document vectors (the paper's "sum-pooling").

    An optional shared dense layer is applied to every label's vector, then each label has
    its own weight vector: `logit_j = sum_f(V'_jf * W_jf) + b_j`. Build it with
    `dtype="float32"` so logits stay float32 under mixed precision.

    Two options (not in the paper) let a label's weight vector borrow from others, meant for
    long tails, where a code seen in one or two notes cannot learn a weight vector of its
    own. Each adds a term to `W_j`, and with either of them the label's own part `E_j`
    starts at 0:

    - `shared_scorer=True`: `W_j = w + E_j`, one shared vector `w` (`study.output_shared_scorer`);
    - `description_scorer=True`: `W_j = d_j P + E_j`, with `d_j` the code's description
      embedding (a fixed `(labels, description_dim)` matrix, set with `set_descriptions`
      after the layer is built, each row scaled to unit length; small random values until
      then) and `P` a learned projection: codes with similar descriptions start with similar
      scorers (`model.output_description_scorer`). Both together: `W_j = w + d_j P + E_j`.
    - `num_parents` = N > 0: `W_j = ... + G_{p(j)} + E_j`, one learned vector per parent code
      (the ICD hierarchy: a code's category), shared by its siblings (`study.output_parent_scorer`;
      the index `p` is set with `set_parents` after the layer is built, every code under
      parent 0 until then). `G` starts at 0 when another term is borrowed, else at random.

    Args:
        num_labels: int. Number of labels.
        hidden_dim: int. Units of the shared dense layer; 0 leaves it out.
        activation: string or callable. Activation of the shared dense layer.
        shared_scorer: bool. Add a shared weight vector (above).
        description_scorer: bool. Add a projection of the description embeddings (above).
        description_dim: int. Width of the description embeddings (the word-vector size).
        num_parents: int. Number of parent codes for a parent scorer (above); 0 leaves it out.
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

    def __init__(self, num_labels, hidden_dim=256, activation="tanh", shared_scorer=False, description_scorer=False,
                 description_dim=100, num_parents=0, **kwargs):
        super().__init__(**kwargs)
        self.num_parents = num_parents
        self.num_labels = num_labels
        self.hidden_dim = hidden_dim
        self.shared_scorer = shared_scorer
        self.description_scorer = description_scorer
        self.description_dim = description_dim
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        features = input_shape[-1]
        self.shared = None
        if self.hidden_dim:
            self.shared = keras.layers.Dense(self.hidden_dim, activation=self.activation, name="shared",
                                             dtype=self.dtype_policy)
            self.shared.build(input_shape)
            features = self.hidden_dim
        borrowed = self.shared_scorer or self.description_scorer or self.num_parents > 0
        self.label_weights = self.add_weight(name="label_weights", shape=(self.num_labels, features),
                                             initializer="zeros" if borrowed else "glorot_uniform")
        self.scorer = None
        if self.shared_scorer:
            self.scorer = self.add_weight(name="scorer", shape=(features,), initializer="glorot_uniform")
        self.descriptions = self.description_projection = None
        if self.description_scorer:
            self.descriptions = self.add_weight(name="descriptions", shape=(self.num_labels, self.description_dim),
                                                initializer="random_normal", trainable=False)
            self.description_projection = self.add_weight(name="description_projection",
                                                          shape=(self.description_dim, features),
                                                          initializer="glorot_uniform")
        self.parents = self.parent_weights = None
        if self.num_parents:
            self.parents = self.add_weight(name="parents", shape=(self.num_labels,), dtype="int32",
                                           initializer="zeros", trainable=False)
            alone = not (self.shared_scorer or self.description_scorer)
            self.parent_weights = self.add_weight(name="parent_weights", shape=(self.num_parents, features),
                                                  initializer="glorot_uniform" if alone else "zeros")
        self.label_bias = self.add_weight(name="label_bias", shape=(self.num_labels,), initializer="zeros")

    def set_descriptions(self, matrix):
        """Sets the (labels x description_dim) description embeddings; rows are scaled to unit
        length (a code without a description keeps a row of zeros)."""
        matrix = ops.convert_to_tensor(matrix, self.descriptions.dtype)
        norms = ops.sqrt(ops.sum(ops.square(matrix), axis=-1, keepdims=True))
        self.descriptions.assign(matrix / ops.maximum(norms, 1e-12))

    def set_parents(self, parents):
        """Sets each label's parent index (labels,), each in [0, num_parents)."""
        parents = np.asarray(parents, np.int64)
        if parents.shape != (self.num_labels,) or parents.min(initial=0) < 0 or \
                parents.max(initial=0) >= self.num_parents:
            raise ValueError(f"set_parents needs {self.num_labels} indices in [0, {self.num_parents}); "
                             f"got shape {parents.shape}, range [{parents.min(initial=0)}, {parents.max(initial=0)}]")
        self.parents.assign(parents.astype(np.int32))

    def label_weight_matrix(self):
        """`W` (labels, features): the label's own part plus what it borrows."""
        weights = self.label_weights
        if self.scorer is not None:
            weights = weights + self.scorer
        if self.descriptions is not None:
            weights = weights + ops.matmul(self.descriptions, self.description_projection)
        if self.parents is not None:
            weights = weights + ops.take(self.parent_weights, self.parents, axis=0)
        return weights

    def call(self, inputs, labels=None):
        """Logits of every label, or with `labels` (B, C) int indices and `inputs` (B, C,
        features) holding those labels' vectors, the logits (B, C) of those labels only."""
        x = inputs if self.shared is None else self.shared(inputs)        # (B, l, F)
        weights, bias = self.label_weight_matrix(), self.label_bias
        if labels is not None:
            weights, bias = ops.take(weights, labels, axis=0), ops.take(bias, labels, axis=0)
        return ops.sum(x * weights, axis=-1) + bias                       # (B, l)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1]

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, hidden_dim=self.hidden_dim,
                      activation=keras.activations.serialize(self.activation), shared_scorer=self.shared_scorer,
                      description_scorer=self.description_scorer, description_dim=self.description_dim,
                      num_parents=self.num_parents)
        return config
