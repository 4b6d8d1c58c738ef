import keras
from keras import ops


@keras.saving.register_keras_serializable(package="jlan_tf")
class ResidualConv1D(keras.layers.Layer):
    """Residual 1-D convolution block over token positions (JLAN's encoder, after MultiResCNN).

    `y = act(conv_b(act(conv_a(x))) + proj(x))`, with `proj` a 1x1 convolution when the input
    width differs from `filters` (else the identity), and "same" padding so every token keeps
    its position. Padded positions are zeroed before each convolution, so appending padding
    to a note changes none of its outputs; the mask passes through.

    Args:
        filters: int. Output channels of both convolutions.
        kernel_size: int. Width of the convolution windows, in tokens.
        activation: string or callable. Activation after each convolution (paper: tanh).
        **kwargs: other keyword arguments for `keras.layers.Layer` (`name`, `dtype`).

    Call arguments:
        inputs: float tensor `(batch, tokens, dim)`.
        mask: optional bool tensor `(batch, tokens)`, False at padding.

    Returns:
        float tensor `(batch, tokens, filters)`, zero at padded positions.

    Example:
    >>> block = ResidualConv1D(filters=8, kernel_size=3)
    >>> block(keras.random.normal((2, 5, 4))).shape
    (2, 5, 8)

    Reference: Li and Yu, "ICD Coding from Clinical Text Using Multi-Filter Residual
    Convolutional Neural Network", AAAI 2020; Li, Zhang et al., BMC Bioinformatics 2021.
    """

    def __init__(self, filters, kernel_size=3, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.supports_masking = True

    def build(self, input_shape):
        conv = lambda size, name: keras.layers.Conv1D(
            self.filters, size, padding="same", name=name, dtype=self.dtype_policy)
        self.conv_a = conv(self.kernel_size, "conv_a")
        self.conv_b = conv(self.kernel_size, "conv_b")
        self.conv_a.build(input_shape)
        self.conv_b.build((*input_shape[:-1], self.filters))
        self.projection = None
        if input_shape[-1] != self.filters:
            self.projection = conv(1, "projection")
            self.projection.build(input_shape)

    def call(self, inputs, mask=None):
        keep = 1.0 if mask is None else ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        x = inputs * keep
        hidden = self.activation(self.conv_a(x)) * keep
        shortcut = x if self.projection is None else self.projection(x)
        return self.activation(self.conv_b(hidden) + shortcut) * keep

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size,
                      activation=keras.activations.serialize(self.activation))
        return config
