"""Token contributions: exact decompositions of the logit where the output is linear."""

import numpy as np
import pytest

from jlan_tf.attribution import token_contributions
from jlan_tf.config import Config
from jlan_tf.model import build_jlan

TOKENS = np.array([[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]], np.int32)


def _model(*overrides):
    config = Config().apply_overrides(["model.conv_filters=4", "model.lstm_units=4", "model.attention_dim=4",
                                       "model.embedding_dropout=0", "model.lexical_output=false", *overrides])
    rng = np.random.default_rng(0)
    return build_jlan(config, rng.normal(size=(30, 8)).astype(np.float32), 5,
                      [np.array([3, 4]), np.array([5]), np.array([6, 7]), np.array([8]), np.array([9])], label_priors=np.full(5, 0.2), label_parents=[0, 0, 1, 2, 2],
                      word_idf=np.linspace(1.0, 2.0, 30))


@pytest.mark.parametrize("overrides", [["preset=caml"], ["preset=laat"],
                                       ["model.fusion=joint", "model.output_hidden_dim=0"],
                                       ["model.fusion=sum", "model.output_hidden_dim=0"],
                                       ["model.fusion=sum", "model.output_hidden_dim=0", "model.lexical_output=true", "model.lexical_words=0",
                                        "study.lexical_init=zeros"]])
def test_contributions_sum_to_the_logit_when_the_output_is_linear(overrides):
    model = _model(*overrides)
    if "model.lexical_output=true" in overrides:  # its kernel starts at 0: give its part something to add
        lexical = model.get_layer("lexical_output")
        lexical.kernel.assign(np.random.default_rng(1).normal(size=lexical.kernel.shape))
    out = token_contributions(model, TOKENS)
    bias = model.get_layer("output").label_bias.numpy()
    np.testing.assert_allclose(out["contributions"].sum(-1), out["logits"] - bias, rtol=1e-4, atol=1e-5)
    assert not out["contributions"][0, :, 4:].any()  # padding contributes nothing
    np.testing.assert_allclose(out["weights"].sum(-1), 2.0 if "model.fusion=sum" in overrides else 1.0, rtol=1e-5)


def test_contributions_of_jlan_with_its_hidden_layer_rank_tokens_not_like_attention():
    model = _model()  # the defaults: joint fusion, shared tanh layer before the label-wise output
    out = token_contributions(model, TOKENS)
    assert out["contributions"].shape == out["weights"].shape == (2, 5, 6)
    assert (out["contributions"] < 0).any()  # unlike attention, a token can speak against a code
    with pytest.raises(ValueError, match="concat"):
        token_contributions(_model("model.fusion=concat"), TOKENS)


@pytest.mark.parametrize("overrides", [[], ["preset=laat"], ["model.train_embeddings=false"]])
def test_input_contributions_are_the_directional_derivative_along_each_word_vector(overrides):
    from jlan_tf.attribution import input_contributions

    model = _model(*overrides)
    tokens = TOKENS[1:]  # six different words: one table row per position
    labels = [0, 3]
    got = input_contributions(model, tokens, labels)
    table = model.get_layer("embedding").embeddings
    original = table.numpy()
    eps = 1e-2

    def logits_with(word, factor):
        scaled = original.copy()
        scaled[word] *= factor  # moves e_t along e_t: d logit / d factor = e_t . grad
        table.assign(scaled)
        return model({"tokens": tokens}, training=False)["logits"].numpy()[0, labels].astype(np.float64)

    for t, word in enumerate(tokens[0]):
        central = (logits_with(word, 1 + eps) - logits_with(word, 1 - eps)) / (2 * eps)
        np.testing.assert_allclose(got[:, t], central, rtol=1e-2, atol=1e-5)
    table.assign(original)
    assert np.abs(got).max() > 1e-4
    with pytest.raises(ValueError, match="one note"):
        input_contributions(model, TOKENS, labels)


def test_occlusion_is_the_logit_fall_when_a_token_is_deleted():
    from jlan_tf.attribution import occlusion

    model = _model()
    note = TOKENS[1:]
    got = occlusion(model, note, [0, 3, 5], batch_size=2)
    full = model({"tokens": note}, training=False)["logits"].numpy()[0]
    for row, p in zip(got, [0, 3, 5]):
        shorter = np.delete(note[0], p)[None]
        np.testing.assert_allclose(row, full - model({"tokens": shorter}, training=False)["logits"].numpy()[0],
                                   rtol=1e-4, atol=1e-5)
    assert np.abs(got).max() > 1e-4
    padded = np.concatenate([TOKENS[:1], np.zeros((1, 3), np.int32)], axis=1)  # 4 words, then padding
    np.testing.assert_allclose(occlusion(model, padded, [1]), occlusion(model, TOKENS[:1, :4], [1]), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="index the note"):
        occlusion(model, padded, [4])
