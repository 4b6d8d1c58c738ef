import numpy as np
import tensorflow as tf

from jlan_tf.layers.label_attention import LabelAttention
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract_both_forms():
    h = tf.random.normal((2, 7, 6))
    for projection_dim in (0, 4):
        run_layer_test(LabelAttention, {"num_labels": 3, "projection_dim": projection_dim}, h,
                       [(2, 3, 6), (2, 3, 7)], expected_dtypes=["float32"] * 2)


def test_values_match_the_formulas_and_padding_gets_no_weight():
    h = tf.random.normal((1, 5, 6))
    mask = tf.constant([[True] * 3 + [False] * 2])
    for projection_dim in (0, 4):
        layer = LabelAttention(num_labels=3, projection_dim=projection_dim)
        m, a = layer(h, mask=mask)
        z = h.numpy()[0, :3]
        if projection_dim:
            z = np.tanh(z @ layer.projection.numpy())
        scores = (z @ layer.queries.numpy()).T                               # (labels, 3 real tokens)
        expected = np.exp(scores - scores.max(1, keepdims=True))
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(a.numpy()[0, :, :3], expected, rtol=1e-5)
        assert not a.numpy()[0, :, 3:].any()
        np.testing.assert_allclose(m.numpy()[0], expected @ h.numpy()[0, :3], rtol=1e-5, atol=1e-6)
