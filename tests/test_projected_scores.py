"""Scores from the projected attended features: the model's own logits, for every code, for
each note's candidates, and in ``model.predict``; the models it does not apply to keep their
layers' calls."""

import numpy as np
import pytest
import tensorflow as tf

from jlan_tf import projected_scores
from jlan_tf.candidates import first_stage_logits
from jlan_tf.config import Config
from jlan_tf.studies.bench import random_model

SMALL = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8",
         "model.attention_chunk=16"]  # 40 codes: three chunks, the last one short


def _model_and_tokens(extra):
    rng = np.random.default_rng(0)
    model = random_model(Config().apply_overrides(SMALL + extra), 300, 40, rng, embedding_dim=12, compile=False)
    tokens = rng.integers(2, 300, (3, 20)).astype(np.int32)
    tokens[1, 12:] = 0  # padding
    return model, tf.constant(tokens)


@pytest.mark.parametrize("extra", [
    [],
    ["model.fusion=sum", "model.output_description_scorer=false"],
    ["study.fusion_scale=2", "study.fusion_label_bias=true", "study.output_shared_scorer=true"],
    ["model.fusion=self_only", "model.lexical_output=false"],
    ["model.fusion=label_only", "model.label_queries=trainable", "model.attention_chunk=0"],
])
def test_the_projected_logits_are_the_models(extra):
    model, tokens = _model_and_tokens(extra)
    assert projected_scores.supports(model)
    full = model({"tokens": tokens}, training=False)["logits"].numpy()
    encoder = projected_scores.encoder_of(model)
    got = projected_scores.logits(model, encoder, tokens).numpy()
    np.testing.assert_allclose(got, full, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict({"tokens": tokens.numpy()}, verbose=0), 1 / (1 + np.exp(-full)),
                               atol=1e-6)
    if "model.lexical_output=false" in extra:
        return
    served = projected_scores.logits(model, encoder, tokens, count=7).numpy()
    first = first_stage_logits(model, tokens).numpy()
    for row in range(3):
        chosen = np.argsort(-first[row])[:7]
        assert set(np.flatnonzero(np.isfinite(served[row]))) == set(chosen)
        np.testing.assert_allclose(served[row, chosen], full[row, chosen], rtol=1e-5, atol=1e-5)


def test_predict_takes_the_projected_path(monkeypatch):
    model, tokens = _model_and_tokens([])

    def refuse(*args, **kwargs):
        raise RuntimeError("projected path taken")

    monkeypatch.setattr(projected_scores, "network_logits", refuse)
    with pytest.raises(RuntimeError, match="projected path taken"):
        model.predict({"tokens": tokens.numpy()}, verbose=0)


@pytest.mark.parametrize("extra", [["model.fusion=concat"], ["model.output_hidden_dim=0"], ["model.arch=laat"]])
def test_other_models_keep_their_layers_calls(extra, monkeypatch):
    model, tokens = _model_and_tokens(extra)
    assert not projected_scores.supports(model)
    monkeypatch.setattr(projected_scores, "network_logits", None)  # would fail if called
    full = model({"tokens": tokens}, training=False)["logits"].numpy()
    np.testing.assert_allclose(model.predict({"tokens": tokens.numpy()}, verbose=0), 1 / (1 + np.exp(-full)),
                               atol=1e-6)


@pytest.mark.parametrize("extra", [
    [],
    ["model.attention_recompute=true", "study.fusion_label_bias=true", "study.fusion_scale=2"],
    ["model.fusion=sum", "model.label_queries=trainable"],
])
def test_training_scores_the_same_with_the_same_gradients(extra):
    """In training (the attention in chunks: 40 codes, 16 a chunk) the projected logits, the
    fusion weights and every weight's gradient are those of the layers' calls."""
    model, tokens = _model_and_tokens(["model.embedding_dropout=0", "model.attention_precision=compute", *extra])
    assert model.projected_training
    labels = tf.constant((np.random.default_rng(1).random((3, 40)) < 0.2).astype(np.float32))
    bce = lambda logits: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
    with tf.GradientTape(persistent=True) as tape:
        reference = model({"tokens": tokens}, training=True)
        projected = projected_scores.training_outputs(model, tokens)
        losses = bce(reference["logits"]), bce(projected["logits"])
    for key in ("logits", "fusion_weights"):
        np.testing.assert_allclose(projected[key].numpy(), reference[key].numpy(), rtol=1e-5, atol=1e-5)
    for variable in model.trainable_variables:
        want, got = (tape.gradient(loss, variable) for loss in losses)
        if want is None:
            assert got is None, variable.path
            continue
        want, got = (tf.convert_to_tensor(g).numpy() for g in (want, got))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(1.0, np.abs(want).max()),
                                   err_msg=variable.path)


def test_training_takes_the_projected_path_with_per_band_metrics(monkeypatch):
    from jlan_tf.objective import Objective

    model, tokens = _model_and_tokens([])
    model.set_objective(Objective(label_bands=tuple(i % 3 for i in range(40))))  # as training sets it
    assert model.projected_training
    model.compile(optimizer="adam")
    labels = (np.random.default_rng(1).random((3, 40)) < 0.2).astype(np.float32)
    logs = model.train_on_batch({"tokens": tokens.numpy()}, {"labels": labels}, return_dict=True)
    assert np.isfinite(logs["loss"]) and any(key.startswith("alpha") for key in logs)

    def refuse(*args, **kwargs):
        raise RuntimeError("projected path taken")

    model.set_objective(Objective(label_bands=tuple(i % 3 for i in range(40))))  # traced again
    monkeypatch.setattr(projected_scores, "network_logits", refuse)
    with pytest.raises(RuntimeError, match="projected path taken"):
        model.train_on_batch({"tokens": tokens.numpy()}, {"labels": labels})


def test_training_keeps_the_layers_calls_where_it_needs_more_than_logits():
    from jlan_tf.objective import Objective

    model, _ = _model_and_tokens([])
    assert model.projected_training
    model.set_objective(Objective(evidence_weight=1.0))  # span supervision reads the attention maps
    assert not model.projected_training
    unchunked, _ = _model_and_tokens(["model.attention_chunk=0"])  # the layers' calls keep the maps
    assert not unchunked.projected_training
