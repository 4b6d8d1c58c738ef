"""tf.data input for a prepared split.

Element spec (``B`` batch, ``T`` the longest note in the batch, ``L`` labels)::

    ({"tokens": int32 (B, T)},                      # 0 = padding
     {"labels": float32 (B, L),                     # multi-hot, as coded (maybe noisy)
      "clean_labels": float32 (B, L),               # only when the source knows the noise
      "evidence": int32 (B, N, 2)})                 # only with evidence=True: rows (label, token
                                                    # position) of coders' spans, padded with -1

Training batches are shuffled (seeded: pass ``epoch`` so every epoch, and a resumed run,
sees a known order) and grouped by length so little is padded: the shuffled documents are
cut into windows of ``batch_size * sort_window``, each window sorted by length and split into
batches, and the batches shuffled. Every batch is full but at most one (the last window's
remainder), so an epoch is exactly ``ceil(n / batch_size)`` steps and no step trains on one
or two documents (``bucket_by_sequence_length`` left one small remainder batch per bucket). Evaluation batches keep a
fixed order, sorted by length; ``eval_order`` gives the permutation back to document order.
The split is held in memory as one ragged tensor (the prepared arrays), so it needs no
``cache()``; multi-hot labels are built per batch, which keeps memory small for 9k labels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from jlan_tf.data.prepared import DataError, PreparedDataset, Split


def eval_order(split: Split) -> np.ndarray:
    """Document indices in the order evaluation batches yield them."""
    return np.argsort(split.lengths, kind="stable")


def training_order(lengths: np.ndarray, batch_size: int, epoch: int, seed: int, sort_window: int = 8) -> np.ndarray:
    """Document indices in training order: consecutive runs of ``batch_size`` are the batches,
    all full but possibly the last."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    window = batch_size * sort_window
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    full = [b for b in batches if len(b) == batch_size]
    partial = [b for b in batches if len(b) < batch_size]
    full = [full[i] for i in rng.permutation(len(full))]
    return np.concatenate(full + partial) if batches else order


def make_dataset(data: PreparedDataset, split: str, batch_size: int, training: bool = False,
                 epoch: int = 0, seed: int = 0, sort_window: int = 8, evidence: bool = False) -> tf.data.Dataset:
    """The split as batches (see the module docstring); ``evidence=True`` adds the gold
    evidence rows (``train.evidence_weight``), which the split must have."""
    part = data.splits[split]
    num_labels = data.num_labels
    order = training_order(part.lengths, batch_size, epoch, seed, sort_window) if training else eval_order(part)

    def ragged(flat: np.ndarray, offsets: np.ndarray) -> tf.RaggedTensor:
        values = tf.RaggedTensor.from_row_splits(flat, offsets, validate=False)
        return tf.gather(values, order)

    columns = {"tokens": ragged(part.tokens, part.offsets), "labels": ragged(part.labels, part.label_offsets)}
    if part.clean_labels is not None:
        columns["clean_labels"] = ragged(part.clean_labels, part.clean_label_offsets)
    if evidence:
        if part.evidence is None:
            raise DataError(f"{data.path}: the {split} split has no gold evidence spans (train.evidence_weight needs "
                            f"them: CodiEsp prepared with --lang es)")
        rows = part.evidence[np.argsort(part.evidence[:, 0], kind="stable")]
        splits = np.concatenate([[0], np.cumsum(np.bincount(rows[:, 0], minlength=len(part)))])
        columns["evidence"] = ragged(rows[:, 1:].astype(np.int32), splits)
    ds = tf.data.Dataset.from_tensor_slices(columns)

    def to_model(element):
        multi_hot = lambda idx: tf.reduce_max(tf.one_hot(idx, num_labels, dtype=tf.float32), axis=0)
        targets = {k: multi_hot(element[k]) for k in ("labels", "clean_labels") if k in element}
        # An empty label list gives reduce_max over nothing = -inf; clamp to 0.
        targets = {k: tf.maximum(v, 0.0) for k, v in targets.items()}
        if "evidence" in element:
            targets["evidence"] = element["evidence"]
        return {"tokens": element["tokens"]}, targets

    ds = ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    padding = None
    if evidence:
        padding = ({"tokens": 0}, {k: -1 if k == "evidence" else 0.0 for k in ds.element_spec[1]})
    return ds.padded_batch(batch_size, padding_values=padding).prefetch(tf.data.AUTOTUNE)
