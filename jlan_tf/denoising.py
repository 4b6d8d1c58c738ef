"""The denoising mechanism: truncated binary cross-entropy (T-CE, Wang et al., WSDM 2021)
applied to (document, code) pairs, as JLAN uses it, with the options that give it a fair
chance on coded notes.

Among the positive entries of a batch (y = 1), the ``n_drop`` with the largest loss are
dropped (weight 0): a label the model finds very unlikely is more likely a coding error.
Negatives are kept (the paper's form). The paper's schedule: ``rate(T) = min(d_max * T / warmup, d_max)``
and ``n_drop = ceil(rate * positives)``. Options (all off by default = the paper's form):

- ``burn_in_steps``: nothing is dropped before this step; the ramp to ``d_max`` starts there
  (T-CE relies on the model fitting the clean labels first).
- ``stop_step``: plain BCE again from this step on (an end phase).
- ``rank="relative"``: positives are ranked by their loss minus the running mean loss of the
  positives of the same code (``PositiveLossMean``), so a positive is not dropped for being
  a rare code (whose positives all have a high loss early on) but for being unusual for its code.
- ``rounding="floor"`` or ``"stochastic"`` instead of ``ceil``: with ``ceil`` a batch of 3
  positives and a rate of 0.05 loses one of them (33 %); ``stochastic`` drops
  ``floor(x) + Bernoulli(frac(x))`` (the expected number is exactly ``rate * positives``),
  seeded by the step so that runs and resumes repeat.

- ``negative_mask``: the same for negatives (codes a coder missed), off by default
  (``train.d_max_negatives``): the negatives with the largest loss, as many as a share of the
  batch's positives, on the same schedule.

``d_max = 0`` (and ``d_max_negatives = 0``) is plain BCE.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

RANKS = ("loss", "relative")
ROUNDINGS = ("ceil", "floor", "stochastic")


def drop_rate(step, d_max: float, warmup_steps: int, stop_step: int | None = None,
              burn_in_steps: int = 0) -> tf.Tensor:
    step = tf.cast(step, tf.float32)
    ramp = tf.clip_by_value((step - float(burn_in_steps)) / float(max(warmup_steps, 1)), 0.0, 1.0)
    rate = d_max * ramp
    if stop_step is not None:
        rate = tf.where(step >= float(stop_step), 0.0, rate)
    return rate


def per_entry_bce(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """(B, L) float32 binary cross-entropy of every (document, label) entry."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32), logits=tf.cast(logits, tf.float32))


def truncation_mask(loss: tf.Tensor, labels: tf.Tensor, rate, rank_by: tf.Tensor | None = None,
                    rounding: str = "ceil", step=0) -> tf.Tensor:
    """(B, L) float32: 0 for the ``n_drop`` positives ranked highest by ``rank_by`` (default:
    the loss), else 1. ``n_drop`` rounds ``rate * positives`` by ``rounding``."""
    scores = loss if rank_by is None else rank_by
    positive = labels > 0.5
    return _drop_highest(scores, positive, tf.cast(rate, tf.float64) * _count(positive), rounding, step, salt=7)


def negative_mask(loss: tf.Tensor, labels: tf.Tensor, rate, rounding: str = "ceil", step=0) -> tf.Tensor:
    """(B, L) float32: 0 for the negatives with the largest loss (the codes the model is surest
    a coder missed), ``rate * positives`` of them rounded by ``rounding``, else 1.

    The count is a share of the batch's *positives*, not of its negatives: missed codes are at
    most as many as the codes a coder wrote, while negatives outnumber them by the label count
    (``rate`` 0.1 drops about one negative per ten positives). Ranked by the loss itself
    (-log(1 - p)): the highest-scored negatives."""
    negative = labels < 0.5
    return _drop_highest(loss, negative, tf.cast(rate, tf.float64) * _count(labels > 0.5), rounding, step, salt=11)


def _count(flags: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.cast(flags, tf.float64))


def _drop_highest(scores, candidate, expected, rounding, step, salt):
    """0 for the round(``expected``) entries flagged by ``candidate`` with the highest
    ``scores`` (no gradient through them), else 1."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    flat = tf.reshape(tf.stop_gradient(scores), [-1])
    # float64 and a small epsilon: 0.15 * 20 must give 3, not ceil(3.0000001) = 4.
    if rounding == "ceil":
        n_drop = tf.math.ceil(expected - 1e-6)
    elif rounding == "floor":
        n_drop = tf.math.floor(expected + 1e-6)
    else:
        draw = tf.random.stateless_uniform([], seed=tf.stack([tf.cast(step, tf.int64), tf.constant(salt, tf.int64)]),
                                           dtype=tf.float64)
        n_drop = tf.math.floor(expected) + tf.cast(draw < expected - tf.math.floor(expected), tf.float64)
    candidates = tf.where(tf.reshape(candidate, [-1]), flat, -float("inf"))
    n_drop = tf.minimum(n_drop, _count(candidate))
    _, dropped = tf.math.top_k(candidates, k=tf.cast(n_drop, tf.int32))
    drop = tf.scatter_nd(dropped[:, None], tf.ones_like(dropped, tf.float32), tf.shape(flat))
    return tf.reshape(1.0 - drop, tf.shape(scores))


class PositiveLossMean:
    """Per code, the running mean loss of its positive entries (an exponential moving average
    over the batches where the code has positives; the first batch sets it). Lives in a model
    variable so checkpoints keep it.

    Args:
        variable: a (2, L) float32 model variable: row 0 the means, row 1 whether seen.
        momentum: weight of the old mean at each update.
    """

    def __init__(self, variable, momentum: float = 0.9):
        self.variable, self.momentum = variable, momentum

    def relative(self, loss: tf.Tensor) -> tf.Tensor:
        """(B, L): the loss minus its code's running mean (codes not yet seen: 0)."""
        means = tf.convert_to_tensor(self.variable)[0]
        return tf.stop_gradient(loss) - means[None, :]

    def update(self, loss: tf.Tensor, labels: tf.Tensor) -> None:
        positive = tf.cast(labels > 0.5, tf.float32)
        count = tf.reduce_sum(positive, 0)
        batch_mean = tf.reduce_sum(tf.stop_gradient(loss) * positive, 0) / tf.maximum(count, 1.0)
        means, seen = tf.unstack(tf.convert_to_tensor(self.variable))
        updated = tf.where(seen > 0, self.momentum * means + (1 - self.momentum) * batch_mean, batch_mean)
        present = count > 0
        self.variable.assign(tf.stack([tf.where(present, updated, means),
                                       tf.where(present, tf.ones_like(seen), seen)]))


def band_shares(values: tf.Tensor, weights: tf.Tensor, bands: tf.Tensor, num_bands: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Per label-frequency band, (sum of ``values * weights``, sum of ``weights``) over a batch.
    ``values`` and ``weights`` are (B, L); ``bands`` (L,) int32 gives each label's band."""
    one_hot = tf.one_hot(bands, num_bands, dtype=tf.float32)                        # (L, bands)
    return (tf.reduce_sum(tf.matmul(values * weights, one_hot), 0),
            tf.reduce_sum(tf.matmul(weights, one_hot), 0))


BAND_NAMES = ("rare", "medium", "frequent")


def frequency_bands(train_counts) -> list[int]:
    """Each label's band by training frequency: the rarest third 0, the middle 1, the rest 2."""
    counts = np.asarray(train_counts, np.float64)
    if not len(counts):
        return []
    order = np.argsort(counts, kind="stable")
    bands = np.empty(len(counts), np.int64)
    bands[order] = (np.arange(len(counts)) * len(BAND_NAMES)) // len(counts)
    return bands.tolist()


class BandMean(keras.metrics.Metric):
    """Per label-frequency band, sum(values * weights) / sum(weights) over the epoch."""

    def __init__(self, name, bands: list[int]):
        super().__init__(name=name)
        self.bands = tf.constant(bands, tf.int32)
        self.total = self.add_variable((len(BAND_NAMES),), "zeros", name="total")
        self.count = self.add_variable((len(BAND_NAMES),), "zeros", name="count")

    def update_state(self, values, weights):
        total, count = band_shares(values, weights, self.bands, len(BAND_NAMES))
        self.total.assign_add(total)
        self.count.assign_add(count)

    def result(self):
        return self.total / tf.maximum(self.count, 1.0)

    def logs(self) -> dict:
        result = self.result()
        return {f"{self.name}_{band}": result[i] for i, band in enumerate(BAND_NAMES)}


__all__ = ["BAND_NAMES", "BandMean", "PositiveLossMean", "RANKS", "ROUNDINGS", "band_shares", "drop_rate",
           "frequency_bands", "negative_mask", "per_entry_bce", "truncation_mask"]
