import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.layers.fast_lstm import FastLSTM


def _data(batch=5, steps=37, features=7):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, steps, features)).astype(np.float32))
    lengths = np.array([steps, 20, 1, 0, 30])[:batch]  # full, padded, one token, all padding
    return x, tf.constant(np.arange(steps)[None] < lengths[:, None])


def _outputs_and_gradients(layer, x, mask, training=None):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, mask=mask, training=training)
        loss = tf.reduce_sum(y * tf.sin(y + 1.0))  # a loss whose gradient differs per entry
    return y, tape.gradient(loss, [x] + layer.trainable_variables)


@pytest.mark.parametrize("jit_loops,training", [(True, True), (False, True), (True, False)])
def test_same_outputs_and_gradients_as_keras_bidirectional_lstm(jit_loops, training):
    # training=False takes the inference loop (nothing kept); its gradient recomputes.
    x, mask = _data()
    reference = keras.layers.Bidirectional(keras.layers.LSTM(6, return_sequences=True, name="lstm"), name="bilstm")
    fast = keras.layers.Bidirectional(FastLSTM(6, return_sequences=True, jit_loops=jit_loops, name="lstm"),
                                      name="bilstm")
    reference(x, mask=mask), fast(x, mask=mask)
    # The same weights in the same layout, under the same names.
    assert [w.path for w in fast.weights] == [w.path for w in reference.weights]
    assert fast.weights[0].path == "bilstm/forward_lstm/lstm_cell/kernel"
    fast.set_weights(reference.get_weights())
    y_ref, g_ref = _outputs_and_gradients(reference, x, mask)
    y_fast, g_fast = _outputs_and_gradients(fast, x, mask, training)
    np.testing.assert_allclose(y_fast.numpy(), y_ref.numpy(), atol=1e-5)
    assert np.abs(y_fast.numpy()[3]).max() == 0 and np.abs(y_fast.numpy()[1, 20:]).max() == 0  # padding
    for name, a, b in zip(["x"] + [w.path for w in reference.trainable_variables], g_fast, g_ref):
        scale = max(1.0, np.abs(b.numpy()).max())
        np.testing.assert_allclose(a.numpy() / scale, b.numpy() / scale, atol=1e-5, err_msg=name)


def test_time_axis_padding_for_xla_changes_nothing():
    # 37 steps are padded to 64 inside the compiled loop; 64 steps are not padded at all.
    x, mask = _data(batch=2, steps=64)
    layer = FastLSTM(4, return_sequences=True)
    full = layer(x, mask=mask).numpy()
    short = layer(x[:, :37], mask=mask[:, :37]).numpy()
    np.testing.assert_allclose(short, full[:, :37], atol=1e-6)


def test_falls_back_to_keras_loop_with_dropout_and_round_trips_its_config():
    x, mask = _data(batch=2)
    layer = FastLSTM(3, dropout=0.5, return_sequences=True, jit_loops=False)
    assert layer(x, mask=mask, training=True).shape == (2, 37, 3)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is FastLSTM and clone.get_config() == layer.get_config()
    assert clone.jit_loops is False


def test_checkpoints_load_into_keras_lstm(tmp_path):
    x, mask = _data(batch=2)
    inputs = keras.Input((None, 7))
    build = lambda rnn: keras.Model(inputs, keras.layers.Bidirectional(rnn, name="bilstm")(inputs))
    fast = build(FastLSTM(5, return_sequences=True, name="lstm"))
    fast.save_weights(tmp_path / "w.weights.h5")
    plain = build(keras.layers.LSTM(5, return_sequences=True, name="lstm"))
    plain.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(plain(x, mask=mask).numpy(), fast(x, mask=mask).numpy(), atol=1e-5)


def test_keras_paths_get_no_empty_rows():
    from jlan_tf.layers.fast_lstm import _no_empty_rows

    mask = tf.constant([[True, True, False], [False, False, False]])
    np.testing.assert_array_equal(_no_empty_rows(mask).numpy(), [[True, True, False], [True, False, False]])
    x, mask = _data(batch=4)  # row 3 is all padding; dropout sends it down Keras' own loop
    out = FastLSTM(3, dropout=0.1, return_sequences=True)(x, mask=mask, training=True)
    assert np.isfinite(out.numpy()).all()
