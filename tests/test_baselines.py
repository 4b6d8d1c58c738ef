"""The baselines (CAML, MultiResCNN, LAAT) in JLAN's harness: sizes by the papers' formulas,
a training step, and the outputs the export and the evidence pages read."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.baselines import code_parents, parameter_count
from jlan_tf.config import Config
from jlan_tf.model import build_jlan
from jlan_tf.objective import Objective



def _config(preset, *overrides):
    return Config().apply_overrides([f"preset={preset}", *overrides])


@pytest.mark.parametrize("preset, labels", [("caml", 50), ("multirescnn", 50), ("laat", 50), ("laat_paper", 8921),
                                            ("jointlaat", 50)])
def test_parameter_counts_follow_the_papers_formulas(preset, labels):
    config = _config(preset)
    embeddings = np.zeros((5000, 100), np.float32)
    parents = [i // 3 for i in range(labels)]  # 17 parents of up to 3 codes each
    model = build_jlan(config, embeddings, labels, label_parents=parents)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == parameter_count(config.model.arch, config.model, 5000, 100, labels, num_parents=17)


def test_code_parents_are_the_codes_before_the_dot_or_their_first_characters():
    codes = ["428.0", "428.21", "V45.81", "E849.7", "39.95", "I25.10", "0DTJ4ZZ", "0DT74ZZ", "4019", "E8497", "i25.2"]
    parents, index = code_parents(codes)
    assert parents == ["428", "V45", "E849", "39", "I25", "0DT", "401", "i25"]
    assert index == [0, 0, 1, 2, 3, 4, 5, 5, 6, 2, 7]


def test_jointlaat_adds_the_parents_bce_to_the_codes():
    config = _config("jointlaat", "model.lstm_units=4", "model.attention_dim=4", "model.parent_projection_dim=3",
                     "model.embedding_dropout=0")
    rng = np.random.default_rng(0)
    parents = [0, 0, 1, 2, 2]
    model = build_jlan(config, rng.normal(size=(30, 8)).astype(np.float32), 5,
                       label_priors=np.full(5, 0.2), label_parents=parents)
    # Parents start at the frequency of "any of its codes" (independent codes): 1 - 0.8^2 for parent 0.
    np.testing.assert_allclose(1 / (1 + np.exp(-model.get_layer("parent_output").label_bias.numpy())),
                               [0.36, 0.2, 0.36], rtol=1e-5)
    model.set_objective(Objective(label_parents=parents))  # training adds the parents' BCE
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    tokens = np.array([[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]], np.int32)
    labels = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 0]], np.float32)
    out = model({"tokens": tokens}, training=True)
    bce = lambda y, z: np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    parent_labels = np.array([[1, 0, 1], [1, 0, 0]], np.float32)
    codes, parent = bce(labels, out["logits"].numpy()), bce(parent_labels, out["parent_logits"].numpy())
    logs = model.train_on_batch({"tokens": tokens}, {"labels": labels}, return_dict=True)
    np.testing.assert_allclose(logs["parent_loss"], parent, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], codes + parent, rtol=1e-5)
    with pytest.raises(ValueError, match="label_parents"):
        build_jlan(config, rng.normal(size=(30, 8)).astype(np.float32), 5)


def test_laat_paper_size_is_the_published_one():
    # Vu et al.: u = 512 per direction, d_a = 512; CAML: 50 maps of width 10.
    assert (_config("laat_paper").model.lstm_units, _config("laat_paper").model.attention_dim) == (512, 512)
    assert (_config("caml").model.conv_filters, _config("caml").model.kernel_size) == (50, 10)
    assert _config("caml", "model.kernel_size=4").model.kernel_size == 4  # --set wins over the preset
    with pytest.raises(KeyError, match="unknown preset"):
        _config("bert")


@pytest.mark.parametrize("preset", ["caml", pytest.param("multirescnn", marks=pytest.mark.slow), "laat", "jointlaat"])
def test_each_baseline_trains_and_gives_one_attention_map_per_label(preset):
    config = _config(preset, "model.conv_filters=4", "model.lstm_units=4", "model.attention_dim=4")
    rng = np.random.default_rng(0)
    model = build_jlan(config, rng.normal(size=(30, 8)).astype(np.float32), 5,
                       label_priors=np.full(5, 0.2), label_parents=[0, 0, 1, 2, 2])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    tokens = np.array([[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]], np.int32)
    labels = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 0]], np.float32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit({"tokens": tokens}, {"labels": labels}, epochs=2, verbose=0)
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    out = model({"tokens": tokens}, training=False)
    attention = out["label_attention"].numpy()
    assert attention.shape == (2, 5, 6) and not attention[0, :, 4:].any()  # padding gets no weight
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out["self_attention"].numpy(), attention)
    np.testing.assert_allclose(out["fusion_weights"].numpy(), 0.5)
    # A saved baseline loads back and gives the same logits.
    path = f"{tf.compat.v1.test.get_temp_dir()}/{preset}.keras"
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)({"tokens": tokens})["logits"].numpy(),
                               out["logits"].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["caml", "multirescnn", "laat", "jointlaat"])
def test_each_baseline_trains_exports_and_serves(preset, small_synthetic, tmp_path):
    from jlan_tf.data import load_prepared
    from jlan_tf.serving import export_run
    from jlan_tf.training import train
    from test_serving import NOTES, keras_probabilities

    config = _config(preset, "model.conv_filters=8", "model.lstm_units=8", "model.attention_dim=8", "train.epochs=1")
    result = train(load_prepared(small_synthetic), config, tmp_path / "run", verbose=0)
    assert 0.0 <= result["test"]["micro_auc"] <= 1.0
    served = tf.saved_model.load(str(export_run(tmp_path / "run", out=tmp_path / "saved", top_k=3)))
    out = served.signatures["serving_default"](text=tf.constant(NOTES))
    np.testing.assert_allclose(out["probabilities"].numpy(), keras_probabilities(tmp_path / "run", NOTES),
                               rtol=1e-4, atol=1e-5)
    explained = served.signatures["explain"](text=tf.constant(NOTES[:1]))
    attention = explained["attention"].numpy()[0]                 # (3 top codes, tokens)
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    from jlan_tf.tokenization import Vocabulary, tokenize

    ids = Vocabulary.load(tmp_path / "run" / "vocab.txt").encode(tokenize(NOTES[0]))[None]
    maps = model({"tokens": ids}, training=False)["label_attention"].numpy()[0]
    top = np.argsort(-out["probabilities"].numpy()[0], kind="stable")[:3]
    np.testing.assert_allclose(attention, maps[top], rtol=1e-4, atol=1e-6)  # the evidence is the model's own map
