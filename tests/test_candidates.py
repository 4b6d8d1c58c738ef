"""Serving on each note's first-stage candidates: the same probabilities as the whole model for
those codes, 0 for the others; the offline measures of what that costs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.attribution import probe_model
from jlan_tf.candidates import (agreement, candidate_logits, choose_count, first_stage_logits, first_stage_recall,
                                 restrict, served_codes)
from jlan_tf.config import Config
from jlan_tf.studies.bench import random_model

SMALL = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8"]


@pytest.mark.parametrize("extra", [[], ["model.output_description_scorer=false", "study.fusion_label_bias=false"]])
def test_candidate_logits_are_the_models_on_the_candidates(extra):
    rng = np.random.default_rng(0)
    model = random_model(Config().apply_overrides(SMALL + extra), 300, 40, rng, embedding_dim=12, compile=False)
    tokens = rng.integers(2, 300, (3, 20)).astype(np.int32)
    tokens[1, 12:] = 0  # padding
    tokens = tf.constant(tokens)
    full = model({"tokens": tokens}, training=False)["logits"].numpy()
    probe = probe_model(model)
    encoder = keras.Model(probe.inputs, probe.outputs[0])
    logits = candidate_logits(model, encoder, tokens, 7).numpy()
    first = first_stage_logits(model, tokens).numpy()
    for row in range(3):
        chosen = np.argsort(-first[row])[:7]
        assert np.isfinite(logits[row]).sum() == 7 and set(np.flatnonzero(np.isfinite(logits[row]))) == set(chosen)
        np.testing.assert_allclose(logits[row, chosen], full[row, chosen], rtol=1e-5, atol=1e-5)
    served = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(served, restrict(1 / (1 + np.exp(-full)), first, 7), atol=1e-6)


def test_restrict_and_first_stage_recall_by_hand():
    probabilities = np.array([[0.9, 0.8, 0.7, 0.1], [0.2, 0.3, 0.4, 0.5]])
    first = np.array([[4.0, 1.0, 3.0, 2.0], [0.0, 1.0, 2.0, 3.0]])
    np.testing.assert_allclose(restrict(probabilities, first, 2), [[0.9, 0, 0.7, 0], [0, 0, 0.4, 0.5]])
    assert restrict(probabilities, first, 4) is probabilities and restrict(probabilities, first, 0) is probabilities
    labels = np.array([[1, 1, 0, 0], [1, 0, 0, 1]])
    # gold pairs: (0,0) in, (0,1) out, (1,0) out, (1,3) in
    assert first_stage_recall(labels, first, 2) == pytest.approx(0.5)
    assert first_stage_recall(labels, first, 4) == 1.0


def test_served_codes_agreement_and_the_chosen_count_by_hand():
    exact = np.array([[0.9, 0.1, 0.6, 0.2, 0.05], [0.1, 0.2, 0.3, 0.8, 0.7]])
    # Top 1 and every code at or above 0.6: note 0 serves codes 0 and 2, note 1 codes 3 and 4.
    np.testing.assert_array_equal(served_codes(exact, 1, 0.6),
                                  [[True, False, True, False, False], [False, False, False, True, True]])
    np.testing.assert_array_equal(served_codes(exact, 2, 0.95), [[True, False, True, False, False],
                                                                 [False, False, False, True, True]])
    first = np.array([[5.0, 4.0, 1.0, 3.0, 2.0], [0.0, 1.0, 2.0, 4.0, 3.0]])
    # 1 candidate: code 0 (note 0), code 3 (note 1): 2 of the 4 served codes; 2: codes 0,1 and 3,4: 3 of 4.
    assert agreement(exact, first, 1, 1, 0.6) == pytest.approx(0.5)
    assert agreement(exact, first, 2, 1, 0.6) == pytest.approx(0.75)
    assert agreement(exact, first, 5, 1, 0.6) == 1.0
    labels = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1]])
    choice = choose_count(exact, first, labels, 0.6, counts=(1, 2, 4, 8), needed=0.75, top_k=1)
    assert choice["chosen"] == 2 and list(choice["by_count"]) == [1, 2, 4]  # 8 is not below the 5 codes
    # Code 2 of note 0 has the lowest first-stage score: out of 4 candidates too.
    assert choice["by_count"][4] == pytest.approx({"agreement": 0.75, "gold_recall": 2 / 3})
    assert choice["by_count"][1] == pytest.approx({"agreement": 0.5, "gold_recall": 1 / 3})  # gold: code 0 of note 0
    assert choose_count(exact, first, labels, 0.6, counts=(1, 2), needed=0.9, top_k=1)["chosen"] == 0  # none: all
