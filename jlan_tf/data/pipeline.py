"""tf.data input for a prepared split.

Element spec (``B`` batch, ``T`` the longest note in the batch, ``L`` labels)::

    ({"tokens": int32 (B, T)},                      # 0 = padding
     {"labels": float32 (B, L),                     # multi-hot, as coded (maybe noisy)
      "clean_labels": float32 (B, L)})              # only when the source knows the noise

Training batches are shuffled (seeded: pass ``epoch`` so every epoch, and a resumed run,
sees a known order) and bucketed by length so little is padded. Evaluation batches keep a
fixed order, sorted by length; ``eval_order`` gives the permutation back to document order.
The split is held in memory as one ragged tensor (the prepared arrays), so it needs no
``cache()``; multi-hot labels are built per batch, which keeps memory small for 9k labels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from jlan_tf.data.prepared import PreparedDataset, Split


def eval_order(split: Split) -> np.ndarray:
    """Document indices in the order evaluation batches yield them."""
    return np.argsort(split.lengths, kind="stable")


def _bucket_boundaries(lengths: np.ndarray, num_buckets: int) -> list[int]:
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1]) if len(lengths) else []
    return sorted({int(q) + 1 for q in quantiles})


def make_dataset(data: PreparedDataset, split: str, batch_size: int, training: bool = False,
                 epoch: int = 0, seed: int = 0, num_buckets: int = 8) -> tf.data.Dataset:
    part = data.splits[split]
    num_labels = data.num_labels
    order = np.random.default_rng([seed, epoch]).permutation(len(part)) if training else eval_order(part)

    def ragged(flat: np.ndarray, offsets: np.ndarray) -> tf.RaggedTensor:
        values = tf.RaggedTensor.from_row_splits(flat, offsets, validate=False)
        return tf.gather(values, order)

    columns = {"tokens": ragged(part.tokens, part.offsets), "labels": ragged(part.labels, part.label_offsets)}
    if part.clean_labels is not None:
        columns["clean_labels"] = ragged(part.clean_labels, part.clean_label_offsets)
    ds = tf.data.Dataset.from_tensor_slices(columns)

    def to_model(element):
        multi_hot = lambda idx: tf.reduce_max(tf.one_hot(idx, num_labels, dtype=tf.float32), axis=0)
        targets = {k: multi_hot(element[k]) for k in ("labels", "clean_labels") if k in element}
        # An empty label list gives reduce_max over nothing = -inf; clamp to 0.
        targets = {k: tf.maximum(v, 0.0) for k, v in targets.items()}
        return {"tokens": element["tokens"]}, targets

    ds = ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training:
        boundaries = _bucket_boundaries(part.lengths, num_buckets)
        ds = ds.bucket_by_sequence_length(
            lambda x, y: tf.shape(x["tokens"])[0], bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1), pad_to_bucket_boundary=False,
        )
    else:
        ds = ds.padded_batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)
