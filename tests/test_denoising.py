import math

import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.denoising import (PositiveLossMean, drop_rate, frequency_bands, negative_mask, per_entry_bce,
                               truncation_mask)


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


def test_burn_in_delays_the_ramp_and_stop_ends_it():
    at = lambda step: float(drop_rate(step, d_max=0.1, warmup_steps=10, stop_step=50, burn_in_steps=20))
    assert at(0) == 0.0 and at(20) == 0.0
    assert at(25) == pytest.approx(0.05) and at(30) == pytest.approx(0.1) and at(49) == pytest.approx(0.1)
    assert at(50) == 0.0


@pytest.mark.parametrize("rounding,expected", [("ceil", 1), ("floor", 0)])
def test_rounding_of_the_number_dropped(rounding, expected):
    labels = tf.constant([[1.0, 1.0, 1.0, 0.0]])
    loss = tf.constant([[0.1, 0.9, 0.5, 3.0]])
    keep = truncation_mask(loss, labels, 0.1, rounding=rounding).numpy()  # 0.1 * 3 positives = 0.3
    assert (keep == 0).sum() == expected
    if expected:
        assert keep[0, 1] == 0  # the largest-loss positive, never the negative with loss 3.0


def test_stochastic_rounding_drops_rate_times_positives_on_average_and_repeats_per_step():
    labels = tf.constant([[1.0] * 3 + [0.0]])
    loss = tf.constant([[0.1, 0.9, 0.5, 3.0]])
    drops = [int((truncation_mask(loss, labels, 0.1, rounding="stochastic", step=s).numpy() == 0).sum())
             for s in range(400)]
    assert set(drops) == {0, 1}
    assert np.mean(drops) == pytest.approx(0.3, abs=0.07)
    again = [int((truncation_mask(loss, labels, 0.1, rounding="stochastic", step=s).numpy() == 0).sum())
             for s in range(400)]
    assert drops == again


def test_relative_ranking_drops_the_positive_unusual_for_its_code_not_the_rare_code():
    # Code 0 is rare: its positives all have a high loss (2.0 on average). Code 1 is common
    # (average 0.2), but one of its positives has loss 1.5: far above its code's mean.
    means = tf.Variable([[2.0, 0.2], [1.0, 1.0]])
    relative = PositiveLossMean(means)
    labels = tf.constant([[1.0, 1.0], [0.0, 1.0]])
    loss = tf.constant([[2.1, 0.2], [0.0, 1.5]])
    by_loss = truncation_mask(loss, labels, 0.34).numpy()            # ceil(0.34 * 3 positives) = 2 dropped
    by_relative = truncation_mask(loss, labels, 0.3, relative.relative(loss)).numpy()  # ceil(0.9) = 1
    assert by_relative[1, 1] == 0 and by_relative[0, 0] == 1          # the unusual positive of code 1
    assert truncation_mask(loss, labels, 0.3).numpy()[0, 0] == 0     # by raw loss: the rare code's positive
    assert by_loss.sum() == 4 - 2


def test_positive_loss_mean_updates_only_codes_present():
    variable = tf.Variable(tf.zeros((2, 3)))
    means = PositiveLossMean(variable, momentum=0.5)
    means.update(tf.constant([[1.0, 2.0, 9.0], [3.0, 0.0, 9.0]]), tf.constant([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(variable.numpy(), [[2.0, 2.0, 0.0], [1.0, 1.0, 0.0]])  # first batch sets the mean
    means.update(tf.constant([[4.0, 0.0, 0.0]]), tf.constant([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(variable.numpy(), [[3.0, 2.0, 0.0], [1.0, 1.0, 0.0]])  # EMA: 0.5 * 2 + 0.5 * 4


def test_frequency_bands_split_labels_into_thirds_by_training_count():
    assert frequency_bands([50, 1, 7, 3, 100, 20]) == [2, 0, 1, 0, 2, 1]
    assert frequency_bands([]) == []


@pytest.mark.parametrize("rate,expected", [(0.0, 0), (0.25, 2), (0.5, 3), (3.0, 14)])
def test_negative_mask_drops_the_highest_loss_negatives_a_share_of_the_positives(rate, expected):
    # 6 positives, 14 negatives: rate * 6 negatives dropped (ceil), never more than there are.
    rng = np.random.default_rng(0)
    labels = np.zeros((4, 5), np.float32)
    labels.flat[rng.choice(20, 6, replace=False)] = 1
    loss = rng.random((4, 5)).astype(np.float32) + 5 * labels  # positives' losses are the largest
    keep = negative_mask(tf.constant(loss), tf.constant(labels), rate).numpy()
    dropped = keep == 0
    assert dropped.sum() == expected and not (dropped & (labels == 1)).any()
    if 0 < expected < 14:
        assert loss[dropped].min() >= loss[(labels == 0) & ~dropped].max()


def test_negative_mask_rounding_and_its_own_stochastic_draw():
    labels = tf.constant([[1.0, 1.0, 1.0, 0.0, 0.0]])
    loss = tf.constant([[0.1, 0.9, 0.5, 0.2, 0.7]])
    assert (negative_mask(loss, labels, 0.1, rounding="floor").numpy() == 0).sum() == 0
    keep = negative_mask(loss, labels, 0.1, rounding="ceil").numpy()
    np.testing.assert_array_equal(keep, [[1, 1, 1, 1, 0]])  # the negative with loss 0.7
    drops = [int((negative_mask(loss, labels, 0.1, rounding="stochastic", step=s).numpy() == 0).sum())
             for s in range(400)]
    assert np.mean(drops) == pytest.approx(0.3, abs=0.07)
    positive_drops = [int((truncation_mask(loss, labels, 0.1, rounding="stochastic", step=s).numpy() == 0).sum())
                      for s in range(400)]
    assert drops != positive_drops  # each side draws on its own
