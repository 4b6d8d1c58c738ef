"""The denoising mechanism: truncated binary cross-entropy (T-CE, Wang et al., WSDM 2021)
applied to (document, code) pairs, as JLAN uses it.

Among the positive entries of a batch (y = 1), the ``ceil(rate * positives)`` with the
largest loss are dropped (weight 0): a label the model finds very unlikely is more likely a
coding error. Negatives are always kept. The rate grows with the global step ``T``:
``rate(T) = min(gamma * T, d_max)``, ``gamma = d_max / warmup_steps``, and is 0 again from
``stop_step`` on when one is given. ``d_max = 0`` is plain BCE.
"""

from __future__ import annotations

import tensorflow as tf


def drop_rate(step, d_max: float, warmup_steps: int, stop_step: int | None = None) -> tf.Tensor:
    step = tf.cast(step, tf.float32)
    rate = tf.minimum(d_max * step / float(max(warmup_steps, 1)), d_max)
    if stop_step is not None:
        rate = tf.where(step >= float(stop_step), 0.0, rate)
    return rate


def per_entry_bce(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """(B, L) float32 binary cross-entropy of every (document, label) entry."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32), logits=tf.cast(logits, tf.float32))


def truncation_mask(loss: tf.Tensor, labels: tf.Tensor, rate) -> tf.Tensor:
    """(B, L) float32: 0 for the ceil(rate * positives) largest-loss positives, else 1."""
    flat_loss = tf.reshape(tf.stop_gradient(loss), [-1])
    positive = tf.reshape(labels, [-1]) > 0.5
    n_positive = tf.reduce_sum(tf.cast(positive, tf.float64))
    # float64 and a small epsilon: 0.15 * 20 must give 3, not ceil(3.0000001) = 4.
    n_drop = tf.cast(tf.math.ceil(tf.cast(rate, tf.float64) * n_positive - 1e-6), tf.int32)
    candidates = tf.where(positive, flat_loss, -float("inf"))
    _, dropped = tf.math.top_k(candidates, k=n_drop)
    drop = tf.scatter_nd(dropped[:, None], tf.ones_like(dropped, tf.float32), tf.shape(flat_loss))
    return tf.reshape(1.0 - drop, tf.shape(loss))
