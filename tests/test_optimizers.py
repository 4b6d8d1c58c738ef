import gc
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.optimizers import FusedAdam


def _train(optimizer, steps=5, densify=False):
    """A dense kernel and an embedding table (sparse gradients; row 4 is looked up twice),
    updated by ``optimizer`` for a few steps of a fixed loss; returns their values."""
    rng = np.random.default_rng(0)
    kernel = keras.Variable(rng.normal(size=(4, 3)).astype(np.float32), name="kernel")
    table = keras.Variable(rng.normal(size=(10, 3)).astype(np.float32), name="embeddings")
    x = tf.constant(rng.normal(size=(5, 4)).astype(np.float32))
    ids = tf.constant([1, 4, 4, 7])
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(x @ kernel)) + tf.reduce_sum(tf.gather(table, ids) ** 3 * [[1.0], [1.0], [-0.8], [1.0]])
        grads = tape.gradient(loss, [kernel.value, table.value])
        assert isinstance(grads[1], tf.IndexedSlices)
        optimizer.apply([tf.convert_to_tensor(g) for g in grads] if densify else grads, [kernel, table])
    return kernel.numpy(), table.numpy()


@pytest.mark.parametrize("options", [{}, {"use_ema": True, "ema_momentum": 0.9, "weight_decay": 0.1}])
def test_the_two_readings_of_adam(options):
    # Adam as written = Keras' Adam given the summed (dense) gradients.
    written = _train(FusedAdam(0.05, **options))
    for a, b in zip(written, _train(keras.optimizers.Adam(0.05, **options), densify=True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    start = _train(FusedAdam(0.05, **options), steps=0)[1]
    assert np.abs(written[1] - start)[[1, 4, 7]].min() > 0.05  # the looked-up rows moved
    # Keras 3's reading = Keras' Adam given the sparse gradients.
    keras_reading = _train(FusedAdam(0.05, square_pieces=True, **options))
    for a, b in zip(keras_reading, _train(keras.optimizers.Adam(0.05, **options))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # They differ on the repeated row only.
    np.testing.assert_allclose(keras_reading[0], written[0], rtol=1e-5, atol=1e-5)
    differs = np.abs(keras_reading[1] - written[1]).max(axis=1) > 1e-4
    assert differs.tolist() == [i == 4 for i in range(10)]


def test_keras_reading_is_fused_and_holds_for_a_word_repeated_many_times(monkeypatch):
    # A word seen 300 times in a batch with pieces of mixed signs: the shift of v cancels against
    # the kernel's g^2 (g^2 up to 300 s), the case where float32 rounding would show.
    rng = np.random.default_rng(1)
    ids = tf.constant(np.r_[np.full(300, 2), [0, 5]].astype(np.int32))
    weights = tf.constant(rng.normal(size=(302, 1)).astype(np.float32))

    def train(optimizer):
        table = keras.Variable(np.full((6, 8), 0.5, np.float32), name="embeddings")
        for _ in range(6):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(tf.gather(table, ids)) * weights)
            optimizer.apply([tape.gradient(loss, table.value)], [table])
        return table.numpy()

    expected = train(keras.optimizers.Adam(0.05))
    monkeypatch.setattr(keras.optimizers.Adam, "update_step", lambda *a: pytest.fail("Keras' unfused update ran"))
    np.testing.assert_allclose(train(FusedAdam(0.05, square_pieces=True)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("square_pieces", [False, True])
def test_unfused_path_under_a_strategy_reads_adam_the_same_way(monkeypatch, square_pieces):
    fused = _train(FusedAdam(0.05, square_pieces=square_pieces))
    monkeypatch.setattr(tf.distribute, "has_strategy", lambda: True)  # Keras' element-wise update
    for a, b in zip(_train(FusedAdam(0.05, square_pieces=square_pieces)), fused):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("square_pieces", [False, True])
def test_models_trained_one_after_another_in_one_process(square_pieces):
    # Each model compiles its own train step; the fused update must hold none of their variables.
    x, y = np.array([[1, 2, 2, 3]]), np.ones((1, 1), np.float32)
    for _ in range(2):
        model = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(5, 3),
                                  keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
        model.compile(optimizer=FusedAdam(0.1, square_pieces=square_pieces), loss="mse")
        before = model.get_weights()[0].copy()
        model.train_on_batch(x, y)
        assert not np.allclose(model.get_weights()[0][2], before[2])  # the repeated word moved
        del model
        gc.collect()


def test_fused_adam_round_trips_its_config():
    optimizer = FusedAdam(0.01, beta_1=0.8, use_ema=True, ema_momentum=0.95, square_pieces=True)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert type(clone) is FusedAdam and clone.get_config() == optimizer.get_config() and clone.square_pieces


def test_make_optimizer_names_the_two_adams():
    from jlan_tf.config import Config, StudyConfig, TrainConfig
    from jlan_tf.training import make_optimizer

    assert make_optimizer(Config(train=TrainConfig())).square_pieces  # the default: Keras 3's reading, chosen on dev
    assert not make_optimizer(Config(study=StudyConfig(optimizer="adam"))).square_pieces
    with pytest.raises(ValueError, match="study.optimizer"):
        make_optimizer(Config(study=StudyConfig(optimizer="sgd")))


def test_a_saved_model_loads_where_only_the_model_module_is_imported(tmp_path):
    # jlan-export, evidence_quality.py and TF Serving exports load run folders' model.keras in
    # a fresh process that imports jlan_tf.model (for the layers), not the training code.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=FusedAdam(0.1), loss="mse")
    model.train_on_batch(np.ones((2, 2)), np.ones((2, 1)))
    model.save(tmp_path / "m.keras")
    code = f"import keras, jlan_tf.model; print(type(keras.models.load_model({str(tmp_path / 'm.keras')!r}).optimizer).__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("FusedAdam")
