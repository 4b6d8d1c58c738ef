import numpy as np
import tensorflow as tf
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer

from jlan_tf.layers.lexical_output import LexicalOutput
from jlan_tf.layers.testing import run_layer_test

TOKENS = np.array([[1, 2, 2, 3, 0, 0], [4, 4, 4, 1, 5, 0], [2, 5, 0, 0, 0, 0]], np.int32)


def test_layer_contract():
    run_layer_test(LexicalOutput, {"num_labels": 3, "vocab_size": 6, "scale": 2.0, "words_per_label": 0,
                                      "kernel_initializer": "random_normal"},
                   tf.constant(TOKENS), (3, 3))


def test_starts_at_zero_and_ignores_padding():
    layer = LexicalOutput(num_labels=2, vocab_size=6)
    np.testing.assert_array_equal(layer(tf.constant(TOKENS)).numpy(), 0.0)
    layer.set_idf(np.full(6, 2.0))
    assert layer.idf.numpy()[0] == 0.0 and (layer.idf.numpy()[1:] == 2.0).all()
    padded = np.concatenate([TOKENS, np.zeros((3, 4), np.int32)], axis=1)
    np.testing.assert_allclose(layer.tfidf(tf.constant(padded)).numpy(), layer.tfidf(tf.constant(TOKENS)).numpy())


def test_features_are_scikit_learns_sublinear_tfidf():
    counts = np.zeros((3, 6))
    for row, ids in enumerate(TOKENS):
        np.add.at(counts[row], ids[ids > 0], 1)
    transformer = TfidfTransformer(sublinear_tf=True).fit(sparse.csr_matrix(counts))
    layer = LexicalOutput(num_labels=2, vocab_size=6)
    layer.build(TOKENS.shape)
    layer.set_idf(transformer.idf_)
    expected = transformer.transform(sparse.csr_matrix(counts)).toarray()
    np.testing.assert_allclose(layer.tfidf(tf.constant(TOKENS)).numpy(), expected, rtol=1e-5, atol=1e-7)
    kernel = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    layer.kernel.assign(kernel)
    np.testing.assert_allclose(layer(tf.constant(TOKENS)).numpy(), expected @ kernel, rtol=1e-5, atol=1e-6)
    shares = layer.token_contributions(tf.constant(TOKENS)).numpy()       # (B, L, T)
    np.testing.assert_allclose(shares.sum(-1), expected @ kernel, rtol=1e-5, atol=1e-6)
    assert not shares[0, :, 4:].any()
    np.testing.assert_allclose(shares[0, :, 1], shares[0, :, 2])  # a word seen twice: its term split in two
    scaled = LexicalOutput(num_labels=2, vocab_size=6, scale=10.0)
    scaled.build(TOKENS.shape)
    scaled.set_weights(layer.get_weights())
    np.testing.assert_allclose(scaled(tf.constant(TOKENS)).numpy(), 10 * expected @ kernel, rtol=1e-5, atol=1e-5)


def test_the_sparse_form_equals_the_dense_kernel_it_keeps():
    rng = np.random.default_rng(1)
    dense = LexicalOutput(num_labels=3, vocab_size=6)
    sparse_layer = LexicalOutput(num_labels=3, vocab_size=6, words_per_label=2)
    for layer in (dense, sparse_layer):
        layer.build(TOKENS.shape)
        layer.set_idf(rng.uniform(1, 2, 6) if layer is dense else dense.idf.numpy())
    word_ids = np.array([[5, 2], [0, 1], [3, 4]])           # label 1 keeps one word (slot 0 unused)
    weights = rng.normal(size=(3, 2)).astype(np.float32)
    sparse_layer.set_words(word_ids, weights)
    kernel = np.zeros((6, 3), np.float32)
    for label, (ids, w) in enumerate(zip(word_ids, weights)):
        kernel[ids[ids > 0], label] = w[ids > 0]
    dense.kernel.assign(kernel)
    tokens = tf.constant(TOKENS)
    np.testing.assert_allclose(sparse_layer(tokens).numpy(), dense(tokens).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sparse_layer.token_contributions(tokens).numpy(),
                               dense.token_contributions(tokens).numpy(), rtol=1e-5, atol=1e-6)
    assert (sparse_layer.word_ids.numpy() == np.sort(word_ids, axis=1)).all()  # kept sorted for bisection


def test_sparse_layer_contract():
    run_layer_test(LexicalOutput, {"num_labels": 3, "vocab_size": 6, "scale": 2.0, "words_per_label": 2,
                                      "kernel_initializer": "random_normal"},
                   tf.constant(TOKENS), (3, 3))
