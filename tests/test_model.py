import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.config import Config, ModelConfig
from jlan_tf.model import JLANModel, build_jlan, description_embeddings
from jlan_tf.objective import Objective


def tiny_config(**changes) -> Config:
    """The network alone (the TF-IDF part needs a corpus: tests/test_linear.py), tiny; ``changes``
    name fields of the model or the study section."""
    config = Config(model=ModelConfig(embedding_dropout=0.0, conv_filters=8, lstm_units=8, attention_dim=8,
                                      output_hidden_dim=8, lexical_output=False))
    for key, value in changes.items():
        setattr(config.study if hasattr(config.study, key) else config.model, key, value)
    return config


TINY = tiny_config()
BUILD_ARGS = ("label_priors", "word_idf", "lexical_weights", "label_parents")
VOCAB, DIM, LABELS = 40, 6, 5


def tiny_model(seed=0, config=TINY, **kwargs):
    """The tiny network; ``kwargs`` are ``build_jlan``'s (BUILD_ARGS) or the ``Objective``'s."""
    keras.utils.set_random_seed(seed)
    embeddings = np.random.default_rng(seed).normal(0, 0.3, (VOCAB, DIM)).astype(np.float32)
    descriptions = [np.array([2 + i, 10 + i]) for i in range(LABELS)]
    model = build_jlan(config, embeddings, LABELS, descriptions, **{k: v for k, v in kwargs.items() if k in BUILD_ARGS})
    model.set_objective(Objective(**{k: v for k, v in kwargs.items() if k not in BUILD_ARGS}))
    return model


def tiny_batch(batch=4, tokens=9, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(2, VOCAB, (batch, tokens)).astype(np.int32)
    x[0, tokens - 3:] = 0  # one shorter note
    y = (rng.random((batch, LABELS)) < 0.4).astype(np.float32)
    return {"tokens": tf.constant(x)}, {"labels": tf.constant(y)}


def test_outputs_and_description_init():
    model = tiny_model()
    x, _ = tiny_batch()
    out = model(x)
    assert out["logits"].shape == (4, LABELS) and out["logits"].dtype == "float32"
    assert out["self_attention"].shape == (4, LABELS, 9) and out["fusion_weights"].shape == (4, LABELS, 2)
    expected = description_embeddings([np.array([2 + i, 10 + i]) for i in range(LABELS)],
                                      model.get_layer("embedding").embeddings.numpy())
    np.testing.assert_allclose(model.get_layer("dual_attention").descriptions.numpy(), expected, rtol=1e-6)


def test_appending_padding_changes_no_output():
    model = tiny_model()
    x = np.random.default_rng(1).integers(2, VOCAB, (2, 7)).astype(np.int32)
    padded = np.concatenate([x, np.zeros((2, 5), np.int32)], axis=1)
    short, long = model({"tokens": x}), model({"tokens": padded})
    np.testing.assert_allclose(short["logits"].numpy(), long["logits"].numpy(), rtol=1e-5, atol=1e-5)
    attention = long["label_attention"].numpy()
    assert not attention[..., 7:].any()
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.slow  # default suite within 4 minutes; CI runs it
def test_overfits_a_tiny_batch():
    model = tiny_model(d_max=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y = tiny_batch()
    ds = tf.data.Dataset.from_tensors((x, y)).repeat(150)
    history = model.fit(ds, epochs=1, verbose=0)
    final = model.evaluate(tf.data.Dataset.from_tensors((x, y)), verbose=0, return_dict=True)["loss"]
    assert final < 0.05, final
    assert history.history["loss"][0] < 0.3


def test_train_step_logs_drop_rate_and_mask_quality():
    model = tiny_model(d_max=0.5, warmup_steps=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_batch()
    clean = y["labels"].numpy().copy()
    clean[0] = 0  # every positive of document 0 is noise
    y = {**y, "clean_labels": tf.constant(clean)}
    logs = model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(3), epochs=1, verbose=0).history
    positives = int(y["labels"].numpy().sum())
    assert logs["drop_rate"][-1] == pytest.approx(0.5)
    assert logs["dropped"][-1] == 0 + 2 * np.ceil(0.5 * positives)  # steps 0, 1, 2 drop 0, half, half
    assert 0.0 <= logs["mask_precision"][-1] <= 1.0 and 0.0 <= logs["mask_recall"][-1] <= 1.0


def test_train_step_drops_negatives_when_asked_and_logs_their_mask_quality():
    # Learning rate 0: the weights never move, so the step's loss can be recomputed exactly.
    model = tiny_model(d_max=0.0, d_max_negatives=0.5, warmup_steps=1)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = tiny_batch(batch=6, seed=3)
    labels = y["labels"].numpy()
    clean = labels.copy()
    clean[labels < 0.5] = 1  # every negative is a missed code
    y = {**y, "clean_labels": tf.constant(clean)}
    first = model.train_on_batch(x, y, return_dict=True)          # step 0: rate 0
    logs = model.train_on_batch(x, y, return_dict=True)           # step 1: 0.5 x positives
    logits = model(x, training=True)["logits"].numpy().astype(np.float64)
    loss = (np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))).ravel()
    negatives = np.flatnonzero(labels.ravel() < 0.5)
    n_drop = int(np.ceil(0.5 * labels.sum()))
    keep = np.ones(loss.size)
    keep[negatives[np.argsort(-loss[negatives], kind="stable")[:n_drop]]] = 0
    assert first["negatives_dropped"] == 0 and logs["negatives_dropped"] == n_drop
    assert logs["dropped"] == 0  # "dropped" counts positives
    assert logs["loss"] == pytest.approx((loss * keep).sum() / keep.sum(), rel=1e-5)
    assert logs["negative_mask_precision"] == 1.0
    assert logs["negative_mask_recall"] == pytest.approx(n_drop / len(negatives))  # train_on_batch resets metrics
    assert "d_max_negatives" not in tiny_model(d_max_negatives=0.5).get_config()  # training's, not the model's


@pytest.mark.parametrize("rank", ["loss", "relative"])
def test_train_step_loss_is_the_mean_over_kept_entries_and_drops_the_right_positives(rank):
    # Learning rate 0: the weights never move, so the step's loss can be recomputed exactly.
    model = tiny_model(d_max=0.5, warmup_steps=1, drop_rank=rank, label_bands=[0, 0, 1, 2, 2])
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = tiny_batch(batch=6, seed=3)
    first = model.train_on_batch(x, y, return_dict=True)     # step 0: rate 0, plain BCE
    logits = model(x, training=True)["logits"].numpy().astype(np.float64)
    labels = y["labels"].numpy()
    loss = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
    assert first["dropped"] == 0 and first["loss"] == pytest.approx(loss.mean(), rel=1e-5)

    logs = model.train_on_batch(x, y, return_dict=True)      # step 1: rate 0.5
    positives = np.flatnonzero(labels.ravel() > 0.5)
    n_drop = int(np.ceil(0.5 * len(positives)))
    score = loss.ravel()
    if rank == "relative":  # the running mean of each code's positive loss (step 0 set it)
        score = (loss - ((loss * labels).sum(0) / labels.sum(0).clip(1))[None, :]).ravel()
    dropped = positives[np.argsort(-score[positives], kind="stable")[:n_drop]]
    keep = np.ones(loss.size)
    keep[dropped] = 0
    assert logs["dropped"] == n_drop and logs["drop_rate"] == pytest.approx(0.5)
    assert logs["loss"] == pytest.approx((loss.ravel() * keep).sum() / keep.sum(), rel=1e-5)
    # The per-band share of dropped positives is logged for TensorBoard.
    bands = np.array([0, 0, 1, 2, 2])
    for b, name in enumerate(["rare", "medium", "frequent"]):
        in_band = (labels > 0.5) & (bands[None, :] == b)
        expected = (keep.reshape(labels.shape)[in_band] == 0).mean() if in_band.any() else 0.0
        assert logs[f"dropped_share_{name}"] == pytest.approx(expected, abs=1e-6)


def test_keras_save_and_reload_gives_identical_predictions(tmp_path):
    model = tiny_model(d_max=0.1, warmup_steps=7, stop_step=30)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_batch()
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(2), epochs=1, verbose=0)
    model.save(tmp_path / "jlan.keras")
    loaded = keras.models.load_model(tmp_path / "jlan.keras")
    assert isinstance(loaded, JLANModel)
    assert not {"d_max", "warmup_steps", "stop_step"} & set(loaded.get_config())  # the network only
    assert loaded.objective == Objective()  # plain BCE until training sets one
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    np.testing.assert_array_equal(model(x)["label_attention"].numpy(), loaded(x)["label_attention"].numpy())


@pytest.mark.parametrize("scorer", ["output_shared_scorer", "output_description_scorer"])
def test_borrowing_scorers_start_from_what_they_borrow_and_reload(tmp_path, scorer):
    model = tiny_model(config=tiny_config(**{scorer: True}))
    output = model.get_layer("output")
    np.testing.assert_array_equal(output.label_weights.numpy(), 0.0)
    if scorer == "output_description_scorer":  # the descriptions' mean word vectors, at unit length
        expected = description_embeddings([np.array([2 + i, 10 + i]) for i in range(LABELS)],
                                          model.get_layer("embedding").embeddings.numpy())
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        np.testing.assert_allclose(output.descriptions.numpy(), expected, rtol=1e-5)
        with pytest.raises(ValueError, match="descriptions"):
            build_jlan(tiny_config(output_description_scorer=True, label_queries="trainable"),
                       np.zeros((VOCAB, DIM), np.float32), LABELS)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y = tiny_batch()
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(3), epochs=1, verbose=0)
    assert np.abs(output.label_weights.numpy()).max() > 0  # the labels depart from the shared scorer
    model.save(tmp_path / "jlan.keras")
    loaded = keras.models.load_model(tmp_path / "jlan.keras")
    assert getattr(loaded.get_layer("output"), scorer.removeprefix("output_"))
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_parent_scorer_shares_a_vector_among_siblings_and_reloads(tmp_path):
    config = tiny_config(output_parent_scorer=True)
    with pytest.raises(ValueError, match="label_parents"):
        tiny_model(config=config)
    parents = [0, 0, 1, 2, 1]
    model = tiny_model(config=config, label_parents=parents)
    output = model.get_layer("output")
    np.testing.assert_array_equal(output.parents.numpy(), parents)
    np.testing.assert_array_equal(output.parent_weights.numpy(), 0.0)  # beside the description scorer
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y = tiny_batch()
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(3), epochs=1, verbose=0)
    shared = output.parent_weights.numpy()
    assert np.abs(shared).max() > 0
    # W_j = E_j + d_j P + G_parent(j): siblings borrow the same parent vector, other codes another.
    expected = (output.label_weights.numpy() + output.descriptions.numpy() @ output.description_projection.numpy()
                + shared[parents])
    np.testing.assert_allclose(output.label_weight_matrix().numpy(), expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "jlan.keras")
    loaded = keras.models.load_model(tmp_path / "jlan.keras")
    assert loaded.get_layer("output").num_parents == 3
    np.testing.assert_array_equal(loaded.get_layer("output").parents.numpy(), parents)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_lexical_output_adds_tfidf_scores_that_train_and_reload(tmp_path):
    config = tiny_config(lexical_output=True, lexical_init="zeros", lexical_trainable=True, lexical_words=0)
    with pytest.raises(ValueError, match="idf"):
        tiny_model(config=config)
    idf = np.linspace(1.0, 3.0, VOCAB).astype(np.float32)
    model, plain = tiny_model(config=config, word_idf=idf), tiny_model()
    lexical = model.get_layer("lexical_output")
    np.testing.assert_allclose(lexical.idf.numpy(), np.concatenate([[0.0], idf[1:]]))
    x, y = tiny_batch()
    # The same seed builds the same network; the lexical kernel starts at 0, so the logits agree.
    np.testing.assert_allclose(model(x)["logits"].numpy(), plain(x)["logits"].numpy(), rtol=1e-6)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(3), epochs=1, verbose=0)
    assert np.abs(lexical.kernel.numpy()).max() > 0
    network = keras.Model(model.inputs, model.get_layer("output").output)
    np.testing.assert_allclose(model(x)["logits"].numpy(),
                               network(x).numpy() + lexical(x["tokens"]).numpy(), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "jlan.keras")
    loaded = keras.models.load_model(tmp_path / "jlan.keras")
    np.testing.assert_array_equal(loaded.get_layer("lexical_output").idf.numpy(), lexical.idf.numpy())
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


@pytest.mark.parametrize("fusion", ["sum"] + [pytest.param(f, marks=pytest.mark.slow)
                                             for f in ("self_only", "label_only", "concat")])
def test_fusion_variants_build_and_train(fusion):
    model = tiny_model(config=tiny_config(fusion=fusion, label_queries="trainable"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_batch()
    assert np.isfinite(model.fit(tf.data.Dataset.from_tensors((x, y)), verbose=0).history["loss"][0])


MIRRORED = textwrap.dedent("""
    import json, sys
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from test_model import tiny_batch, tiny_model
    def run(strategy):
        with strategy.scope():
            model = tiny_model(seed=1, d_max=0.0)
            model.compile(optimizer=keras.optimizers.SGD(0.5))
        batches = [tiny_batch(batch=8, seed=s) for s in range(4)]
        ds = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(
            {"tokens": tf.TensorSpec((8, 9), tf.int32)}, {"labels": tf.TensorSpec((8, 5), tf.float32)}))
        model.fit(ds, epochs=1, verbose=0)
        return [w.numpy() for w in model.trainable_weights]
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        initial = [w.numpy() for w in tiny_model(seed=1, d_max=0.0).trainable_weights]
    one = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
    trained = min(float(np.abs(a - b).max()) for a, b in zip(one, initial))
    two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(one, run(tf.distribute.OneDeviceStrategy("/cpu:0"))))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one, two))
    print(json.dumps({"diff": diff, "repeat_diff": moved, "smallest_weight_change": trained}))
""")


def test_mirrored_strategy_matches_one_device():
    result = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                            cwd=os.path.dirname(__file__), timeout=300)  # python -c: the cwd (tests/) is on the path
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    figures = json.loads(result.stdout.strip().splitlines()[-1])
    # Same data, same initial weights, 4 SGD steps at lr 0.5: only the order of float32 sums
    # differs (two half-batch gradients all-reduced vs one), so weights agree to ~1e-6.
    assert figures["repeat_diff"] == 0.0
    assert figures["smallest_weight_change"] > 10 * figures["diff"]  # every weight moved more than the gap
    assert figures["diff"] < 1e-5, figures


def test_config_does_not_carry_the_embedding_matrix():
    import json

    model = tiny_model()
    np.testing.assert_allclose(model.get_layer("embedding").embeddings.numpy()[3],
                               np.random.default_rng(0).normal(0, 0.3, (VOCAB, DIM)).astype(np.float32)[3])
    assert len(json.dumps(model.get_config())) < 20_000


def test_frozen_embeddings_are_not_trained_and_stay_frozen_after_reload(tmp_path):
    model = tiny_model(config=tiny_config(train_embeddings=False), d_max=0.0)
    before = model.get_layer("embedding").embeddings.numpy().copy()
    assert not any("embedding" in v.path for v in model.trainable_variables)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(tf.data.Dataset.from_tensors(tiny_batch()).repeat(3), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("embedding").embeddings.numpy(), before)
    model.save(tmp_path / "m.keras")
    assert not keras.models.load_model(tmp_path / "m.keras").get_layer("embedding").trainable
    trained = tiny_model(d_max=0.0)  # the default trains them
    assert any("embedding" in v.path for v in trained.trainable_variables)


def test_prior_bias_starts_at_label_log_odds():
    priors = np.array([0.5, 0.1, 0.01, 0.0, 0.9])
    bias = tiny_model(label_priors=priors).get_layer("output").label_bias.numpy()
    np.testing.assert_allclose(bias[:3], np.log([1.0, 0.1 / 0.9, 0.01 / 0.99]), rtol=1e-5)
    assert bias[3] == pytest.approx(np.log(1e-4 / (1 - 1e-4)), rel=1e-4) and bias[4] > 0
    off = tiny_model(config=tiny_config(prior_bias=False), label_priors=priors)
    assert not off.get_layer("output").label_bias.numpy().any()


MIRRORED_TRUNCATION = textwrap.dedent("""
    import json, sys
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from test_model import tiny_batch, tiny_model
    from jlan_tf.denoising import per_entry_bce, truncation_mask
    x, y = tiny_batch(batch=8, seed=5)
    labels = y["labels"]

    def reference(halves):
        # Two SGD steps by hand: plain BCE, then rate 0.5 with the mask decided per half-batch
        # (what each of 2 replicas sees) or over the whole batch (halves=False).
        model = tiny_model(seed=1, d_max=0.0)
        optimizer = keras.optimizers.SGD(0.5)
        masks = []
        for rate in (0.0, 0.5):
            with tf.GradientTape() as tape:
                loss_matrix = per_entry_bce(labels, model(x, training=True)["logits"])
                parts = [slice(0, 4), slice(4, 8)] if halves else [slice(0, 8)]
                keep = tf.concat([truncation_mask(loss_matrix[p], labels[p], rate) for p in parts], 0)
                loss = tf.reduce_sum(loss_matrix * keep) / tf.reduce_sum(keep)
            optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
            masks.append(keep.numpy())
        return [w.numpy() for w in model.trainable_weights], masks[1]

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = tiny_model(seed=1, d_max=0.5, warmup_steps=1, drop_rank="loss", drop_rounding="ceil")
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(2), epochs=1, verbose=0)
    mirrored = [w.numpy() for w in model.trainable_weights]
    per_replica, mask_halves = reference(halves=True)
    whole_batch, mask_whole = reference(halves=False)
    gap = lambda a, b: max(float(np.abs(u - v).max()) for u, v in zip(a, b))
    print(json.dumps({"diff": gap(mirrored, per_replica), "diff_whole_batch_mask": gap(mirrored, whole_batch),
                      "masks_differ": bool((mask_halves != mask_whole).any()),
                      "dropped_by_hand": float((1 - mask_halves).sum())}))
""")


@pytest.mark.slow  # default suite within 4 minutes; CI runs it
def test_mirrored_strategy_with_truncation_matches_the_per_replica_step():
    # d_max > 0 under MirroredStrategy: each replica drops the highest-loss positives of its
    # half of the batch, and the loss is the mean over the kept entries of the whole batch.
    result = subprocess.run([sys.executable, "-c", MIRRORED_TRUNCATION], capture_output=True, text=True,
                            cwd=os.path.dirname(__file__), timeout=300)  # python -c: the cwd (tests/) is on the path
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["masks_differ"] and figures["dropped_by_hand"] > 0  # the two readings can be told apart
    assert figures["diff"] < 1e-5, figures
    assert figures["diff_whole_batch_mask"] > 10 * max(figures["diff"], 1e-7), figures


def test_label_weights_make_the_loss_a_weighted_mean():
    from jlan_tf.training import rare_code_weights

    weights = rare_code_weights(np.array([0, 1, 2, 4, 9]), 4)
    assert weights == [0.0, 0.25, 0.5, 1.0, 1.0] and rare_code_weights(np.array([0, 3]), 0) is None
    model = tiny_model(d_max=0.0, label_weights=weights)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    x, y = tiny_batch()
    logits = model(x, training=True)["logits"].numpy()
    labels = y["labels"].numpy()
    bce = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
    w = np.broadcast_to(np.array(weights), bce.shape)
    logs = model.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], (bce * w).sum() / w.sum(), rtol=1e-5)
    assert JLANModel.from_config(model.get_config()).objective.label_weights is None  # training's, not the model's


def test_lexical_weights_set_the_part_and_the_biases_where_a_code_has_an_intercept():
    config = tiny_config(lexical_output=True, lexical_words=0)  # lexical_init=lr: the weights are given
    kernel = np.random.default_rng(0).normal(size=(VOCAB, LABELS)).astype(np.float32)
    bias = np.array([np.nan, -1.0, -2.0, -3.0, -4.0])  # code 0: no regression (e.g. never in training)
    priors = np.full(LABELS, 0.2)
    model = tiny_model(config=config, word_idf=np.ones(VOCAB, np.float32), lexical_weights=(kernel, bias),
                       label_priors=priors)
    np.testing.assert_allclose(model.get_layer("lexical_output").kernel.numpy() * config.study.lexical_scale, kernel,
                               rtol=1e-6)
    np.testing.assert_allclose(model.get_layer("output").label_bias.numpy(), [np.log(0.2 / 0.8), -1, -2, -3, -4],
                               rtol=1e-6)


def test_attention_precision_resolves_per_machine_when_training(monkeypatch):
    from jlan_tf import model as model_module
    from jlan_tf.layers import dual_attention

    assert model_module.attention_dtype("compute") is None
    assert model_module.attention_dtype("bfloat16") == "bfloat16"
    assert model_module.attention_dtype("auto") == "auto"  # kept in the layer's config, not this machine's answer
    for native in (True, False):
        monkeypatch.setattr(dual_attention, "native_bfloat16", lambda: native)
        assert dual_attention.resolve_chunk_dtype("auto") == ("bfloat16" if native else None)  # no GPU here
        assert dual_attention.resolve_chunk_dtype(None) is None
        assert dual_attention.resolve_chunk_dtype("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="attention_precision"):
        model_module.attention_dtype("float16")
