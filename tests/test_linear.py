"""TF-IDF + LR (jlan_tf.linear) and the TF-IDF part started from its fit (study.lexical_init=lr)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.config import Config
from jlan_tf.data import load_prepared
from jlan_tf.linear import FittedLR, word_idf
from jlan_tf.training import new_model

TINY = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8"]


def _padded(split, n):
    docs = [split.tokens[split.offsets[i]:split.offsets[i + 1]] for i in range(n)]
    return tf.constant(keras.utils.pad_sequences(docs, padding="post", dtype="int32"))


def test_fitted_lr_idf_and_intercepts(small_synthetic):
    data = load_prepared(small_synthetic)
    fitted = FittedLR(data)
    np.testing.assert_allclose(word_idf(data), fitted.tfidf.idf_, rtol=1e-6)
    intercepts = fitted.intercepts()
    present = np.flatnonzero(fitted.present)
    features = fitted.features("dev")
    # The decision function is the features times the coefficients plus the intercepts.
    np.testing.assert_allclose(fitted.classifier.decision_function(features),
                               features @ fitted.coefficients()[present].T + intercepts[present], rtol=1e-6, atol=1e-6)
    assert np.isnan(intercepts[~fitted.present]).all()


@pytest.mark.parametrize("trainable", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_lexical_init_lr_starts_as_the_fitted_lr(small_synthetic, trainable, tmp_path):
    data = load_prepared(small_synthetic)
    config = Config().apply_overrides(TINY + ["model.lexical_output=true", "study.lexical_init=lr",
                                              "model.lexical_words=0",  # the dense kernel: every word
                                              f"study.lexical_trainable={str(trainable).lower()}"])
    model = new_model(data, config)
    lexical, output = model.get_layer("lexical_output"), model.get_layer("output")
    fitted = FittedLR(data, seed=config.train.seed)
    present = np.flatnonzero(fitted.present)
    tokens = _padded(data.splits["dev"], 8)
    # The TF-IDF part plus the output biases is LR's decision function, computed in the graph.
    ours = lexical(tokens).numpy() + output.label_bias.numpy()
    expected = fitted.classifier.decision_function(fitted.features("dev")[:8])
    np.testing.assert_allclose(ours[:, present], expected, rtol=1e-4, atol=1e-4)
    assert any(v is lexical.kernel for v in model.trainable_variables) == trainable
    before = lexical.kernel.numpy().copy()
    y = tf.constant(data.splits["dev"].multi_hot(data.num_labels)[:8])
    model.fit(tf.data.Dataset.from_tensors(({"tokens": tokens}, {"labels": y})).repeat(2), verbose=0)
    assert np.array_equal(lexical.kernel.numpy(), before) == (not trainable)
    model.save(tmp_path / "jlan.keras")
    loaded = keras.models.load_model(tmp_path / "jlan.keras")
    assert loaded.get_layer("lexical_output").trainable == trainable
    np.testing.assert_allclose(loaded.predict({"tokens": tokens}, verbose=0),
                               model.predict({"tokens": tokens}, verbose=0), rtol=1e-6)


def test_lexical_init_must_be_known(small_synthetic):
    data = load_prepared(small_synthetic)
    with pytest.raises(ValueError, match="lexical_init"):
        new_model(data, Config().apply_overrides(TINY + ["model.lexical_output=true", "study.lexical_init=ones"]))
    keras.backend.clear_session()


def test_codes_without_a_regression_get_zero_weights_and_no_intercept():
    # Code 1 never seen in training, code 2 in every training note (scikit-learn then fits a
    # constant predictor): neither has weights or an intercept to start the TF-IDF part from.
    import warnings
    from types import SimpleNamespace

    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    rng = np.random.default_rng(0)
    x, y = rng.random((20, 4)), np.stack([rng.random(20) < 0.5, np.ones(20, bool)], 1).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Label 1 is present in all training examples"
        classifier = OneVsRestClassifier(LogisticRegression()).fit(x, y)
    fitted = FittedLR.__new__(FittedLR)
    fitted.data = SimpleNamespace(num_labels=3, vocab=range(4))
    fitted.present, fitted.classifier = np.array([True, False, True]), classifier
    coefficients, intercepts = fitted.coefficients(), fitted.intercepts()
    np.testing.assert_array_equal(coefficients[0], classifier.estimators_[0].coef_[0])
    assert not coefficients[1:].any()
    assert intercepts[0] == classifier.estimators_[0].intercept_[0] and np.isnan(intercepts[1:]).all()


def test_the_part_with_k_words_per_code_is_the_restricted_lr_and_its_fit_is_cached(small_synthetic, tmp_path):
    import shutil

    from sklearn.linear_model import LogisticRegression

    from jlan_tf import lexical_fit

    folder = tmp_path / "prepared"
    shutil.copytree(small_synthetic, folder)
    data = load_prepared(folder)
    fitted = lexical_fit.fit_sparse_lr(data, 8, n_jobs=2)
    assert fitted.word_ids.shape == (data.num_labels, 8)
    # Code 3's regression is scikit-learn's on its 8 candidate words, nothing else.
    full = FittedLR.__new__(FittedLR)
    full.data, full.tfidf = data, lexical_fit._tfidf(data)
    features = full.features("train")
    y = data.splits["train"].multi_hot(data.num_labels)[:, 3]
    alone = LogisticRegression(C=10.0, max_iter=1000, random_state=0).fit(features[:, fitted.word_ids[3]], y)
    np.testing.assert_allclose(fitted.weights[3], alone.coef_[0], rtol=1e-4, atol=1e-5)
    # The candidates of a code are words of its own notes, the most frequent there (x idf) first.
    in_notes = np.unique(np.concatenate([data.splits["train"].tokens[data.splits["train"].offsets[i]:
                                                                      data.splits["train"].offsets[i + 1]]
                                         for i in np.flatnonzero(y)]))
    assert set(fitted.word_ids[3]) <= set(in_notes)

    config = Config().apply_overrides(TINY + ["model.lexical_output=true", "model.lexical_words=8"])
    model = new_model(data, config)
    cached = list((folder / "cache").glob("lexical-*.npz"))
    assert len(cached) == 1
    tokens = _padded(data.splits["dev"], 8)
    ours = model.get_layer("lexical_output")(tokens).numpy() + model.get_layer("output").label_bias.numpy()
    reference = lexical_fit.cached_sparse_lr(data, 8, seed=config.train.seed)  # read back from the cache
    present = ~np.isnan(reference.intercepts)
    expected = reference.decision_function(full.features("dev")[:8])
    np.testing.assert_allclose(ours[:, present], expected[:, present], rtol=1e-4, atol=1e-4)
    assert lexical_fit.cache_key(data, 8, 10.0, 0) != lexical_fit.cache_key(data, 16, 10.0, 0)


def test_the_fit_on_a_sample_of_negatives_is_reproducible_and_keeps_each_codes_base_rate(small_synthetic):
    from jlan_tf import lexical_fit

    data = load_prepared(small_synthetic)
    train_notes = len(data.splits["train"])
    every_note = lexical_fit.fit_sparse_lr(data, 8, n_jobs=1, max_negatives=None)
    # A cap at or above the notes samples nothing: the same fit, and the cache key it had before the cap.
    np.testing.assert_array_equal(lexical_fit.fit_sparse_lr(data, 8, n_jobs=1, max_negatives=train_notes).weights,
                                  every_note.weights)
    assert lexical_fit.cache_key(data, 8, 10.0, 0, train_notes) == lexical_fit.cache_key(data, 8, 10.0, 0, None)
    assert lexical_fit.cache_key(data, 8, 10.0, 0, 60) != lexical_fit.cache_key(data, 8, 10.0, 0, None)

    sampled = lexical_fit.fit_sparse_lr(data, 8, n_jobs=1, max_negatives=60)
    np.testing.assert_array_equal(lexical_fit.fit_sparse_lr(data, 8, n_jobs=2, max_negatives=60).weights,
                                  sampled.weights)  # each code's draw does not depend on the workers
    assert not np.array_equal(sampled.weights, every_note.weights)
    # The sampled negatives are weighed up: on every training note the mean probability is still
    # the code's frequency (unweighted, 60 negatives beside ~13 positives would give ~0.18 for 0.054).
    full = FittedLR.__new__(FittedLR)
    full.data, full.tfidf = data, lexical_fit._tfidf(data)
    probabilities = 1 / (1 + np.exp(-sampled.decision_function(full.features("train"))))
    frequency = data.splits["train"].multi_hot(data.num_labels).mean(axis=0)
    fitted = ~np.isnan(sampled.intercepts)
    assert fitted.sum() > 10
    np.testing.assert_allclose(probabilities.mean(axis=0)[fitted], frequency[fitted], rtol=0.2, atol=0.01)
