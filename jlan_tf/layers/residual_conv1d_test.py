import numpy as np
import tensorflow as tf

from jlan_tf.layers.residual_conv1d import ResidualConv1D
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract():
    x = tf.random.normal((2, 7, 4))
    run_layer_test(ResidualConv1D, {"filters": 6, "kernel_size": 3, "activation": "tanh"}, x, (2, 7, 6))
    run_layer_test(ResidualConv1D, {"filters": 4, "kernel_size": 5, "activation": "relu"}, x, (2, 7, 4))  # identity shortcut


def test_appending_padding_changes_nothing():
    layer = ResidualConv1D(filters=5, kernel_size=3)
    x = tf.random.normal((1, 6, 4))
    padded = tf.concat([x, tf.random.normal((1, 4, 4))], axis=1)  # garbage where the padding is
    mask = tf.constant([[True] * 6 + [False] * 4])
    short = layer(x).numpy()
    long = layer(padded, mask=mask).numpy()
    np.testing.assert_allclose(long[:, :6], short, atol=1e-6)
    assert not long[:, 6:].any()
