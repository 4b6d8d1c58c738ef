"""Evidence supervision (``train.evidence_weight``): the span loss, the evidence rows in tf.data,
and a training run that pulls the attention onto the coders' spans."""

import json

import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.config import Config
from jlan_tf.data import load_prepared
from jlan_tf.data.sources import prepare_codiesp
from jlan_tf.data.pipeline import eval_order, make_dataset
from jlan_tf.data.prepared import DataError
from jlan_tf.supervision import EPSILON, span_attention_loss
from jlan_tf.training import new_model
from test_codiesp import _fake_spanish_release

TINY = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8",
        "train.d_max=0", "train.ema_momentum=0", "train.learning_rate=0.01"]


def _maps(rng, shape):
    x = rng.normal(size=shape)
    return (np.exp(x) / np.exp(x).sum(-1, keepdims=True)).astype(np.float32)


def test_span_loss_by_hand():
    rng = np.random.default_rng(0)
    a_self, a_label = _maps(rng, (2, 3, 5)), _maps(rng, (2, 3, 5))
    weights = rng.uniform(0.1, 1.0, (2, 3, 2)).astype(np.float32)   # not normalised: the loss normalises
    evidence = np.array([[[1, 0], [1, 2], [2, 4]],                      # note 0: code 1 at 0 and 2, code 2 at 4
                         [[0, 3], [-1, -1], [-1, -1]]], np.int32)       # note 1: code 0 at 3, then padding

    def p(b, label, t):
        w = weights[b, label] / weights[b, label].sum()
        return w[0] * a_self[b, label, t] + w[1] * a_label[b, label, t]

    expected = (-(np.log(p(0, 1, 0) + EPSILON) + np.log(p(0, 1, 2) + EPSILON)) / 2
                - np.log(p(0, 2, 4) + EPSILON) - np.log(p(1, 0, 3) + EPSILON))
    total, pairs = span_attention_loss(a_self, a_label, weights, evidence)
    assert float(pairs) == 3.0
    assert float(total) == pytest.approx(expected, rel=1e-5)
    # A batch without any span adds nothing.
    total, pairs = span_attention_loss(a_self, a_label, weights, np.full((2, 1, 2), -1, np.int32))
    assert float(total) == 0.0 and float(pairs) == 0.0


@pytest.fixture(scope="module")
def spanish(tmp_path_factory):
    root = tmp_path_factory.mktemp("codiesp")
    release = _fake_spanish_release(root / "release")
    return load_prepared(prepare_codiesp(root / "p", release, lang="es", embedding_dim=4, word2vec_epochs=1))


def test_batches_carry_each_notes_evidence_rows(spanish):
    part = spanish.splits["train"]
    batches = list(make_dataset(spanish, "train", batch_size=2, evidence=True))
    evidence = np.concatenate([y["evidence"].numpy() for _, y in batches])
    for row, document in enumerate(eval_order(part)):
        expected = part.evidence[part.evidence[:, 0] == document][:, 1:]
        got = evidence[row][evidence[row, :, 0] >= 0]
        assert got.tolist() == expected.tolist()
        assert (evidence[row, len(expected):] == -1).all()
    assert batches[0][1]["evidence"].dtype == tf.int32
    assert "evidence" not in next(iter(make_dataset(spanish, "train", batch_size=2)))[1]


def _span_loss(model, data):
    x, y = next(iter(make_dataset(data, "train", batch_size=2, evidence=True)))
    out = model(x, training=False)
    total, pairs = span_attention_loss(out["self_attention"], out["label_attention"], out["fusion_weights"],
                                       y["evidence"])
    return float(total / pairs)


def test_training_pulls_the_attention_onto_the_spans(spanish):
    losses = {}
    for weight in (0.0, 1.0):
        tf.keras.utils.set_random_seed(0)
        model = new_model(spanish, Config().apply_overrides(TINY + [f"train.evidence_weight={weight}"]))
        before = _span_loss(model, spanish)
        history = model.fit(make_dataset(spanish, "train", batch_size=2, training=True, evidence=weight > 0),
                            epochs=40, verbose=0)
        losses[weight] = (before, _span_loss(model, spanish))
        assert ("evidence_loss" in history.history) == (weight > 0)
    (before_0, after_0), (before_1, after_1) = losses[0.0], losses[1.0]
    assert before_0 == pytest.approx(before_1, rel=1e-5)   # same initial model
    assert after_1 < 0.5 * before_1                          # supervised: far more attention on the spans
    assert after_1 < after_0 - 0.3                           # and more than without supervision


def test_evidence_weight_needs_spans_and_attention(small_synthetic, spanish):
    with pytest.raises(DataError, match="no gold evidence spans"):
        make_dataset(load_prepared(small_synthetic), "train", batch_size=4, training=True, evidence=True)
    with pytest.raises(ValueError, match="evidence_weight"):
        new_model(spanish, Config().apply_overrides(TINY + ["model.arch=caml", "train.evidence_weight=1"]))


def test_span_lexicon_baseline(spanish, small_synthetic, capsys):
    from scripts import load

    baseline_spans = load("baseline_spans")

    # Every note: "paciente con dolor torácico y fiebre de 39 grados. dolor abdominal intenso." with the
    # three codes; spans: r07.9 "dolor torácico" (tokens 2-3), r50.9 "fiebre" (5), r10.0 "dolor" (8).
    lexicon = baseline_spans.SpanLexicon(spanish)
    label = {c: i for i, c in enumerate(spanish.codes)}
    word = {w: spanish.vocab.encode([w])[0] for w in ("dolor", "torácico", "fiebre")}
    assert lexicon.by_code[label["r07.9"]] == {(word["dolor"], word["torácico"]): pytest.approx(2.5 / 3)}
    assert lexicon.by_code[label["r10.0"]] == {(word["dolor"],): pytest.approx(2.5 / 3)}
    assert lexicon.scores("test") == pytest.approx(np.full((2, 3), 2.5 / 3))
    words = spanish.splits["test"].tokens[:spanish.splits["test"].offsets[1]]
    assert np.flatnonzero(lexicon.evidence(words, label["r10.0"])).tolist() == [2, 8]   # "dolor", twice
    assert np.flatnonzero(lexicon.evidence(words, label["r07.9"])).tolist() == [2, 3]
    assert baseline_spans.main(["--dataset", str(spanish.path)]) == 0
    capsys.readouterr()
    assert baseline_spans.main(["--dataset", str(spanish.path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)   # every test note's three codes tie at the top: official MAP 1
    assert result["test"]["codiesp_map"] == pytest.approx(1.0) and result["phrases"] == 3
    assert baseline_spans.main(["--dataset", str(small_synthetic)]) == 2   # no spans: a clear error
