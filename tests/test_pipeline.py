import numpy as np
import tensorflow as tf

from jlan_tf.data import load_prepared
from jlan_tf.data.pipeline import eval_order, make_dataset


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


def test_training_order_depends_on_seed_and_epoch_only(small_synthetic):
    data = load_prepared(small_synthetic)
    first = lambda **kw: next(iter(make_dataset(data, "train", 8, training=True, **kw)))[0]["tokens"].numpy()
    np.testing.assert_array_equal(first(epoch=1), first(epoch=1))
    assert first(epoch=1).shape != first(epoch=2).shape or (first(epoch=1) != first(epoch=2)).any()


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
