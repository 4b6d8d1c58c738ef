import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.layers.joint_fusion import FUSION_MODES, JointFusion
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract():
    m = (tf.random.normal((2, 3, 4)), tf.random.normal((2, 3, 4)))
    run_layer_test(JointFusion, {"mode": "joint"}, m, [(2, 3, 4), (2, 3, 2)])


@pytest.mark.parametrize("mode", FUSION_MODES)
def test_variants(mode):
    m_self, m_label = tf.random.normal((2, 3, 4)), tf.random.normal((2, 3, 4))
    v, weights = JointFusion(mode=mode)((m_self, m_label))
    expected = {
        "sum": m_self + m_label, "self_only": m_self, "label_only": m_label,
        "concat": tf.concat([m_self, m_label], -1),
        "joint": weights[..., :1] * m_self + weights[..., 1:] * m_label,
    }[mode]
    np.testing.assert_allclose(v.numpy(), expected.numpy(), rtol=1e-6)


def test_joint_weights_are_normalised():
    _, weights = JointFusion(mode="joint")((tf.random.normal((4, 5, 6)) * 3, tf.random.normal((4, 5, 6)) * 3))
    w = weights.numpy()
    assert (w > 0).all() and (w < 1).all()
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    assert w[..., 0].std() > 0  # per document and label, not a constant


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        JointFusion(mode="average")
