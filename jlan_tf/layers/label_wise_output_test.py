import numpy as np
import tensorflow as tf

from jlan_tf.layers.label_wise_output import LabelWiseOutput
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract():
    x = tf.random.normal((2, 3, 5))
    for hidden_dim, shared_scorer in ((8, False), (0, False), (8, True)):
        run_layer_test(LabelWiseOutput, {"num_labels": 3, "hidden_dim": hidden_dim, "activation": "tanh",
                                         "shared_scorer": shared_scorer}, x, (2, 3))


def test_each_label_has_its_own_weights():
    layer = LabelWiseOutput(num_labels=2, hidden_dim=0)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0]]])
    layer(x)
    layer.label_weights.assign([[1.0, 0.0], [0.5, -1.0]])
    layer.label_bias.assign([0.1, 0.2])
    np.testing.assert_allclose(layer(x).numpy(), [[1.0 + 0.1, 1.5 - 4.0 + 0.2]], rtol=1e-6)


def test_shared_scorer_adds_a_shared_vector_to_every_label():
    layer = LabelWiseOutput(num_labels=2, hidden_dim=0, shared_scorer=True)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0]]])
    layer(x)
    np.testing.assert_array_equal(layer.label_weights.numpy(), 0.0)  # every label starts from the shared scorer
    layer.scorer.assign([1.0, -1.0])
    np.testing.assert_allclose(layer(x).numpy(), [[1.0 - 2.0, 3.0 - 4.0]], rtol=1e-6)
    layer.label_weights.assign([[0.0, 0.0], [0.5, 1.0]])
    layer.label_bias.assign([0.1, 0.2])
    np.testing.assert_allclose(layer(x).numpy(), [[-1.0 + 0.1, 1.5 * 3.0 + 0.0 * 4.0 + 0.2]], rtol=1e-6)
