"""The shared layer-test helper: every custom layer is tested the same way in a few lines."""

from __future__ import annotations

import json

import keras
import numpy as np
import tensorflow as tf


def _flat(outputs):
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def run_layer_test(layer_cls, init_kwargs: dict, inputs, expected_shapes, expected_dtypes=None):
    """Checks config round-trip (as JSON), output shapes and dtypes, identical outputs after
    rebuilding from the config with the same weights, and one training step that changes
    every trainable weight. Returns the layer's outputs."""
    layer = layer_cls(**init_kwargs)
    call = lambda l: l(inputs)
    outputs = _flat(call(layer))
    assert [tuple(o.shape) for o in outputs] == [tuple(s) for s in _flat_shapes(expected_shapes)]
    if expected_dtypes is not None:
        assert [o.dtype for o in outputs] == list(expected_dtypes), [o.dtype for o in outputs]
    static = _flat_shapes(layer.compute_output_shape(_shape_of(inputs)))
    assert [tuple(s) for s in static] == [tuple(s) for s in _flat_shapes(expected_shapes)]

    # Config: exactly the constructor arguments on top of the base Layer's, through JSON.
    config = layer.get_config()
    base = keras.layers.Layer().get_config()
    assert set(config) - set(base) == set(init_kwargs), set(config) - set(base)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    clone = keras.saving.deserialize_keras_object(serialized)
    assert type(clone) is layer_cls and clone.get_config() == config
    call(clone)
    clone.set_weights(layer.get_weights())
    for a, b in zip(outputs, _flat(call(clone))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)

    # One training step: every trainable weight gets a gradient and moves.
    before = [w.numpy().copy() for w in layer.trainable_weights]
    with tf.GradientTape() as tape:
        loss = sum(tf.reduce_mean(tf.square(tf.cast(o, tf.float32))) for o in _flat(call(layer)))
    gradients = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None for g in gradients), [w.name for w, g in zip(layer.trainable_weights, gradients) if g is None]
    keras.optimizers.SGD(0.1).apply(gradients, layer.trainable_weights)
    moved = [not np.allclose(b, w.numpy()) for b, w in zip(before, layer.trainable_weights)]
    assert all(moved), [w.name for w, m in zip(layer.trainable_weights, moved) if not m]
    return outputs


def _shape_of(inputs):
    if isinstance(inputs, (tuple, list)):
        return tuple(tuple(x.shape) for x in inputs)
    return tuple(inputs.shape)


def _flat_shapes(shapes):
    return list(shapes) if shapes and isinstance(shapes[0], (tuple, list)) else [shapes]
