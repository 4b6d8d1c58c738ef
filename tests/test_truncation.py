import math

import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.truncation import drop_rate, per_entry_bce, truncation_mask


def test_schedule_values():
    at = lambda step, **kw: float(drop_rate(step, d_max=0.15, warmup_steps=100, **kw))
    assert at(0) == 0.0
    assert at(50) == pytest.approx(0.075)
    assert at(100) == pytest.approx(0.15) and at(10_000) == pytest.approx(0.15)
    assert at(99, stop_step=100) == pytest.approx(0.1485) and at(100, stop_step=100) == 0.0
    assert float(drop_rate(500, d_max=0.0, warmup_steps=100)) == 0.0


@pytest.mark.parametrize("rate,positives", [(0.25, 10), (0.15, 20), (0.1, 7), (0.5, 1), (0.0, 9), (1.0, 4)])
def test_drops_exactly_ceil_rate_positives_and_never_a_negative(rate, positives):
    rng = np.random.default_rng(positives)
    labels = np.zeros((4, 10), np.float32)
    labels.flat[rng.choice(40, positives, replace=False)] = 1
    loss = rng.random((4, 10)).astype(np.float32)
    keep = truncation_mask(tf.constant(loss), tf.constant(labels), rate).numpy()
    dropped = keep == 0
    assert dropped.sum() == math.ceil(round(rate * positives, 9))
    assert not (dropped & (labels == 0)).any()
    if dropped.any():  # the dropped positives are those with the largest loss
        assert loss[dropped].min() >= loss[(labels == 1) & ~dropped].max(initial=-1)


def test_dropped_entries_get_zero_gradient_and_rate_zero_is_plain_bce():
    labels = tf.constant([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    logits = tf.Variable([[-3.0, 0.5, 2.0], [0.1, -1.0, -2.0]])
    with tf.GradientTape() as tape:
        loss = per_entry_bce(labels, logits)
        keep = truncation_mask(loss, labels, 0.5)  # 4 positives -> 2 dropped: logits -3.0 and -1.0
        total = tf.reduce_sum(loss * keep) / tf.reduce_sum(keep)
    gradient = tape.gradient(total, logits).numpy()
    np.testing.assert_array_equal(keep.numpy(), [[0, 1, 1], [1, 0, 1]])
    assert gradient[0, 0] == 0 and gradient[1, 1] == 0 and (gradient[keep.numpy() == 1] != 0).all()

    plain = tf.reduce_mean(tf.keras.losses.binary_crossentropy(labels[..., None], tf.sigmoid(logits)[..., None]))
    keep0 = truncation_mask(loss, labels, 0.0)
    assert float(tf.reduce_sum(loss * keep0) / tf.reduce_sum(keep0)) == pytest.approx(float(plain), rel=1e-5)
