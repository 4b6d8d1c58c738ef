import numpy as np
import tensorflow as tf

from jlan_tf.data import load_prepared
from jlan_tf.data.pipeline import eval_order, make_dataset, training_order


def test_element_spec(small_synthetic):
    data = load_prepared(small_synthetic)
    ds = make_dataset(data, "train", batch_size=8, training=True)
    x_spec, y_spec = ds.element_spec
    assert x_spec == {"tokens": tf.TensorSpec((None, None), tf.int32)}
    assert y_spec == {"labels": tf.TensorSpec((None, 50), tf.float32),
                      "clean_labels": tf.TensorSpec((None, 50), tf.float32)}


def test_training_batches_cover_split_once_and_are_bucketed(small_synthetic):
    data = load_prepared(small_synthetic)
    split = data.splits["train"]
    seen, padding = 0, 0
    for x, y in make_dataset(data, "train", batch_size=8, training=True):
        tokens = x["tokens"].numpy()
        seen += len(tokens)
        padding += (tokens == 0).sum()
        assert set(np.unique(y["labels"].numpy())) <= {0.0, 1.0}
    assert seen == len(split)
    worst_case = (split.lengths.max() - split.lengths).sum()
    assert padding < 0.5 * worst_case  # bucketing pads far less than padding all to the max


def test_training_batches_hold_every_document_once_and_are_full(small_synthetic):
    data = load_prepared(small_synthetic)
    split = data.splits["train"]
    documents = [tuple(split.tokens[split.offsets[i]:split.offsets[i + 1]]) for i in range(len(split))]
    seen, sizes = [], []
    for x, y in make_dataset(data, "train", batch_size=16, training=True, epoch=3, seed=5):
        sizes.append(len(x["tokens"]))
        for row, labels in zip(x["tokens"].numpy(), y["labels"].numpy()):
            seen.append(tuple(row[row > 0]))
            i = documents.index(seen[-1])
            np.testing.assert_array_equal(labels, split.multi_hot(50)[i])  # labels travel with their note
    assert sorted(seen) == sorted(documents)  # document by document: none missing, none twice
    assert sizes[:-1] == [16] * (len(sizes) - 1) and len(sizes) == -(-len(split) // 16)  # ceil(n / batch) steps


def test_training_order_windows_are_sorted_and_order_depends_on_seed_and_epoch_only():
    lengths = np.random.default_rng(0).integers(1, 500, 100)
    order = training_order(lengths, batch_size=4, epoch=1, seed=0, sort_window=5)
    assert sorted(order) == list(range(100))
    for b in range(25):  # inside every batch the lengths are sorted (each window is)
        batch = lengths[order[4 * b:4 * b + 4]]
        assert (np.diff(batch) >= 0).all()
    same = training_order(lengths, 4, epoch=1, seed=0, sort_window=5)
    np.testing.assert_array_equal(order, same)
    assert (order != training_order(lengths, 4, epoch=2, seed=0, sort_window=5)).any()
    assert (order != training_order(lengths, 4, epoch=1, seed=1, sort_window=5)).any()


def test_eval_batches_follow_eval_order(small_synthetic):
    data = load_prepared(small_synthetic)
    split = data.splits["dev"]
    batches = list(make_dataset(data, "dev", batch_size=4))
    labels = np.concatenate([y["labels"].numpy() for _, y in batches])
    clean = np.concatenate([y["clean_labels"].numpy() for _, y in batches])
    order = eval_order(split)
    np.testing.assert_array_equal(labels, split.multi_hot(50)[order])
    np.testing.assert_array_equal(clean, split.multi_hot(50, clean=True)[order])
    first = batches[0][0]["tokens"].numpy()[0]
    i = order[0]
    np.testing.assert_array_equal(first[first > 0], split.tokens[split.offsets[i]:split.offsets[i + 1]])
