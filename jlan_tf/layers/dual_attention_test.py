import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.layers.dual_attention import DualAttention
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract_both_query_kinds():
    h = tf.random.normal((2, 7, 6))
    for queries in ("description", "trainable"):
        kwargs = {"num_labels": 3, "attention_dim": 4, "label_queries": queries, "description_dim": 5, "label_chunk": 0,
                  "recompute": False, "chunk_dtype": None}
        run_layer_test(DualAttention, kwargs, h, [(2, 3, 6), (2, 3, 6), (2, 3, 7), (2, 3, 7)],
                       expected_dtypes=["float32"] * 4)


def test_masked_attention_is_zero_on_padding_and_sums_to_one():
    layer = DualAttention(num_labels=3, attention_dim=4, label_queries="trainable")
    h = tf.random.normal((2, 6, 8))
    mask = tf.constant([[True] * 4 + [False] * 2, [True] * 6])
    _, _, a_self, a_label = layer(h, mask=mask)
    for a in (a_self.numpy(), a_label.numpy()):
        assert not a[0, :, 4:].any()
        np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-6)


def test_appending_padding_changes_nothing():
    layer = DualAttention(num_labels=3, attention_dim=4, label_queries="trainable")
    h = tf.random.normal((1, 5, 8))
    padded = tf.concat([h, tf.random.normal((1, 3, 8))], axis=1)
    short = layer(h)
    long = layer(padded, mask=tf.constant([[True] * 5 + [False] * 3]))
    for a, b in zip(short[:2], long[:2]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_description_queries_start_from_descriptions():
    layer = DualAttention(num_labels=2, attention_dim=4, label_queries="description", description_dim=3)
    layer(tf.random.normal((1, 4, 6)))
    descriptions = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    layer.set_descriptions(descriptions)
    expected = descriptions @ layer.query_projection.numpy()  # the offsets start at zero
    np.testing.assert_allclose(layer.label_query_matrix().numpy(), expected, rtol=1e-6)
    assert all(w is not layer.descriptions for w in layer.trainable_weights)


MASK = tf.constant([[True] * 4 + [False] * 2, [True] * 6])


def _training_views_and_gradients(whole, chunked, h, mask):
    """Per layer (``chunked`` set to ``whole``'s weights): [M_s, M_l, dL/dh, dL/dweights...] of a
    training call, and the self-attention maps ``chunked`` returned."""
    whole(h, mask=mask)
    chunked(h, mask=mask)
    chunked.set_weights(whole.get_weights())
    results = []
    for layer in (whole, chunked):
        with tf.GradientTape() as tape:
            tape.watch(h)
            m_self, m_label, a_self, _ = layer(h, mask=mask, training=True)
            loss = tf.reduce_sum(tf.sin(m_self)) + tf.reduce_sum(m_label ** 2)
        results.append([m_self, m_label, *tape.gradient(loss, [h, *layer.trainable_weights])])
    return results, a_self


@pytest.mark.parametrize("recompute", [False, True])
@pytest.mark.parametrize("queries", ["trainable", "description"])
def test_chunked_training_gives_the_same_views_and_gradients(recompute, queries):
    whole = DualAttention(num_labels=5, attention_dim=4, label_queries=queries, description_dim=8)
    chunked = DualAttention(num_labels=5, attention_dim=4, label_queries=queries, description_dim=8, label_chunk=2,
                            recompute=recompute)
    h = tf.random.normal((2, 6, 8))
    results, a_self = _training_views_and_gradients(whole, chunked, h, MASK)
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert a_self.shape == (2, 5, 0)  # no maps in chunked training
    assert chunked(h, mask=MASK)[2].shape == (2, 5, 6)  # inference: the maps as always


@pytest.mark.parametrize("recompute", [False, True])
def test_bfloat16_chunks_give_float32_views_and_gradients_within_bfloat16_rounding(recompute):
    whole = DualAttention(num_labels=5, attention_dim=4, label_queries="description", description_dim=8)
    chunked = DualAttention(num_labels=5, attention_dim=4, label_queries="description", description_dim=8,
                            label_chunk=2, recompute=recompute, chunk_dtype="bfloat16")
    h = tf.random.normal((2, 6, 8), seed=1)
    results, _ = _training_views_and_gradients(whole, chunked, h, MASK)
    assert results[1][0].dtype == tf.float32  # the views come back in the compute dtype
    for a, b in zip(*results):
        scale = np.abs(a.numpy()).max()
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=0.03 * scale)  # bfloat16: 8 bits of mantissa
        assert not np.allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7) or scale == 0  # rounded, not float32
    inference = [chunked(h, mask=MASK)[i].numpy() for i in (0, 1)]  # inference stays in the compute dtype
    np.testing.assert_allclose(inference[0], whole(h, mask=MASK)[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(inference[1], whole(h, mask=MASK)[1].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("native", [True, False])
def test_auto_chunks_are_decided_by_the_machine_that_trains(monkeypatch, native):
    from jlan_tf.layers import dual_attention

    monkeypatch.setattr(dual_attention, "native_bfloat16", lambda: native)
    h = tf.random.normal((2, 6, 8), seed=2)
    layers = {dtype: DualAttention(num_labels=5, attention_dim=4, label_queries="trainable", label_chunk=2,
                                   chunk_dtype=dtype) for dtype in ("auto", "bfloat16", None)}
    for layer in layers.values():
        layer(h, mask=MASK)
        layer.set_weights(layers["auto"].get_weights())
    views = {dtype: layer(h, mask=MASK, training=True)[0].numpy() for dtype, layer in layers.items()}
    np.testing.assert_array_equal(views["auto"], views["bfloat16" if native else None])
    assert not np.array_equal(views["bfloat16"], views[None])
    assert layers["auto"].get_config()["chunk_dtype"] == "auto"  # saved as asked, decided again where it trains


def test_views_only_gives_the_same_views_without_maps_in_inference():
    from jlan_tf.layers.dual_attention import views_only

    layer = DualAttention(num_labels=5, attention_dim=4, label_queries="trainable", label_chunk=2)
    h = tf.random.normal((2, 6, 8))
    whole = layer(h)
    with views_only():
        chunked = layer(h)
    np.testing.assert_allclose(chunked[0].numpy(), whole[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chunked[1].numpy(), whole[1].numpy(), rtol=1e-5, atol=1e-6)
    assert chunked[2].shape == (2, 5, 0) and layer(h)[2].shape == (2, 5, 6)


def test_chunks_run_one_after_the_other_in_a_graph():
    # Side by side, each chunk would hold its (batch, chunk, tokens) scores at once.
    layer = DualAttention(num_labels=5, attention_dim=4, label_queries="trainable", label_chunk=2)
    h = tf.random.normal((2, 6, 8))
    layer(h)
    graph = tf.function(lambda x: layer.weighted_sums(x, x)).get_concrete_function(h).graph
    waited_on = {c.name for op in graph.get_operations() for c in op.control_inputs}
    assert len(waited_on) >= 4  # chunks 2 and 3 wait for the two sums of the chunk before
