import numpy as np
import tensorflow as tf

from jlan_tf.layers.label_wise_output import LabelWiseOutput
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract():
    x = tf.random.normal((2, 3, 5))
    run_layer_test(LabelWiseOutput, {"num_labels": 3, "hidden_dim": 8, "activation": "tanh"}, x, (2, 3))
    run_layer_test(LabelWiseOutput, {"num_labels": 3, "hidden_dim": 0, "activation": "tanh"}, x, (2, 3))


def test_each_label_has_its_own_weights():
    layer = LabelWiseOutput(num_labels=2, hidden_dim=0)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0]]])
    layer(x)
    layer.label_weights.assign([[1.0, 0.0], [0.5, -1.0]])
    layer.label_bias.assign([0.1, 0.2])
    np.testing.assert_allclose(layer(x).numpy(), [[1.0 + 0.1, 1.5 - 4.0 + 0.2]], rtol=1e-6)
