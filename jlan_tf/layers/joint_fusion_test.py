import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.layers.joint_fusion import FUSION_MODES, JointFusion
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract():
    m = (tf.random.normal((2, 3, 4)), tf.random.normal((2, 3, 4)))
    run_layer_test(JointFusion, {"mode": "joint", "scale": 1.0, "label_bias": False}, m, [(2, 3, 4), (2, 3, 2)])
    run_layer_test(JointFusion, {"mode": "joint", "scale": 2.0, "label_bias": True}, m, [(2, 3, 4), (2, 3, 2)])


def _set_gate(layer, w_self, b_self, w_label, b_label):
    layer.w_self.assign(np.array(w_self, np.float32).reshape(-1, 1))
    layer.w_label.assign(np.array(w_label, np.float32).reshape(-1, 1))
    layer.b_self.assign(np.array(b_self, np.float32).reshape(layer.b_self.shape))
    layer.b_label.assign(np.array(b_label, np.float32).reshape(layer.b_label.shape))


def test_joint_against_hand_set_gate_weights():
    m_self = np.array([[[1.0, 2.0], [0.0, -1.0]]], np.float32)             # (1 doc, 2 labels, 2)
    m_label = np.array([[[3.0, 0.0], [2.0, 2.0]]], np.float32)
    layer = JointFusion(mode="joint")
    layer((m_self, m_label))
    _set_gate(layer, [1.0, 0.0], 0.5, [0.0, 1.0], -0.5)
    v, weights = layer((m_self, m_label))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))
    alpha = sigmoid(m_self[..., 0] + 0.5)                                  # M_s w_3 + b_3
    beta = sigmoid(m_label[..., 1] - 0.5)                                  # M_l w_4 + b_4
    a = alpha / (alpha + beta)
    np.testing.assert_allclose(weights.numpy()[..., 0], a, rtol=1e-6)
    np.testing.assert_allclose(v.numpy(), a[..., None] * m_self + (1 - a[..., None]) * m_label, rtol=1e-6)
    # scale=2 doubles V; with zero gate weights (alpha' = 0.5) that is exactly the plain sum.
    scaled = JointFusion(mode="joint", scale=2.0)
    scaled((m_self, m_label))
    _set_gate(scaled, [0, 0], 0, [0, 0], 0)
    np.testing.assert_allclose(scaled((m_self, m_label))[0].numpy(), m_self + m_label, rtol=1e-6)


def test_per_label_gate_biases():
    m = np.ones((1, 3, 2), np.float32)
    layer = JointFusion(mode="joint", label_bias=True)
    layer((m, m))
    assert layer.b_self.shape == (3, 1)
    _set_gate(layer, [0, 0], [2.0, 0.0, -2.0], [0, 0], [0.0, 0.0, 0.0])
    alpha = layer((m, m))[1].numpy()[0, :, 0]
    sigmoid = lambda z: 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(alpha, sigmoid(np.array([2.0, 0.0, -2.0])) / (sigmoid(np.array([2.0, 0, -2])) + 0.5),
                               rtol=1e-6)
    assert alpha[0] > alpha[1] > alpha[2]  # each label its own mix


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_variants(mode):
    m_self, m_label = tf.random.normal((2, 3, 4)), tf.random.normal((2, 3, 4))
    v, weights = JointFusion(mode=mode)((m_self, m_label))
    expected = {
        "sum": m_self + m_label, "self_only": m_self, "label_only": m_label,
        "concat": tf.concat([m_self, m_label], -1),
        "joint": weights[..., :1] * m_self + weights[..., 1:] * m_label,  # the mix; values: hand-set test below
    }[mode]
    np.testing.assert_allclose(v.numpy(), expected.numpy(), rtol=1e-6)


def test_joint_weights_are_normalised():
    # Seeded: unseeded draws at 3 sd now and then saturate a sigmoid to exactly 1.0 in float32.
    rng = np.random.default_rng(0)
    views = [tf.constant(rng.normal(0, 3, (4, 5, 6)), tf.float32) for _ in range(2)]
    keras.utils.set_random_seed(0)
    _, weights = JointFusion(mode="joint")(tuple(views))
    w = weights.numpy()
    assert (w > 0).all() and (w < 1).all()
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    assert w[..., 0].std() > 0  # per document and label, not a constant


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        JointFusion(mode="average")
