"""The exported SavedModel: TF-only loading, signatures, tokenizer parity, warm-up, bad input,
jlan-predict and the HTML evidence page."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.config import Config
from jlan_tf.data import load_prepared, synthetic
from jlan_tf.data.mimic3 import MIMIC3_TOP50
from jlan_tf.serving import export_run, tokenize_in_graph
from jlan_tf.tokenization import Vocabulary, tokenize
from jlan_tf.training import train

TINY = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8",
        "train.epochs=1"]
NOTES = ["Patient admitted with congestive heart failure; diuresed with IV Lasix. No evidence of pneumonia.",
         "Hx of HTN, DM2. Creatinine 2.1 — acute kidney injury. Niño con fiebre, ÁCIDO úrico 7.2 mg/dL."]


@pytest.fixture(scope="module")
def exported(small_synthetic, tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    train(load_prepared(small_synthetic), Config().apply_overrides(TINY), root / "run", verbose=0)
    return root / "run", export_run(root / "run", out=root / "saved_models" / "tiny", top_k=5)


@pytest.fixture(scope="module")
def exported_lexical(small_synthetic, tmp_path_factory):
    """The same with the TF-IDF part learned from 0 (the default's part is LR's fit, kept fixed): its
    bag of words is computed in the graph."""
    root = tmp_path_factory.mktemp("serving_lexical")
    overrides = ["model.lexical_output=true", "study.lexical_init=zeros", "study.lexical_trainable=true"]
    train(load_prepared(small_synthetic), Config().apply_overrides(TINY + overrides),
          root / "run", verbose=0)
    return root / "run", export_run(root / "run", out=root / "saved_models" / "tiny", top_k=5)


def keras_probabilities(run: Path, notes: list[str]) -> np.ndarray:
    import keras

    model = keras.models.load_model(run / "model.keras")
    vocab = Vocabulary.load(run / "vocab.txt")
    ids = [vocab.encode(tokenize(n)) for n in notes]
    batch = np.zeros((len(ids), max(len(i) for i in ids)), np.int32)
    for row, i in enumerate(ids):
        batch[row, :len(i)] = i
    return model.predict({"tokens": batch}, verbose=0)


TF_ONLY = textwrap.dedent("""
    import json, sys
    sys.modules["jlan_tf"] = None          # importing jlan_tf now fails: TensorFlow alone must do
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    notes = json.loads(sys.argv[2])
    out = model.signatures["serving_default"](text=tf.constant(notes))
    single = [model.signatures["serving_default"](text=tf.constant([n]))["probabilities"].numpy()[0].tolist()
              for n in notes]  # one note per request: the fused-kernel branch
    print(json.dumps({"probabilities": out["probabilities"].numpy().tolist(), "single": single,
                      "top_codes": [[c.decode() for c in row] for row in out["top_codes"].numpy()]}))
""")


def test_tensorflow_alone_serves_the_same_probabilities(exported):
    run, path = exported
    result = subprocess.run([sys.executable, "-c", TF_ONLY, str(path), json.dumps(NOTES)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    # Same weights, same ids; only the batch padding differs: float32 agreement to 1e-5.
    expected = keras_probabilities(run, NOTES)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(served["single"], expected, atol=1e-5)
    codes = (run / "labels.tsv").read_text().splitlines()
    top = np.argsort(-np.array(served["probabilities"][0]))[0]
    assert served["top_codes"][0][0] == codes[top].split("\t")[0]


def _op_types(saved_model_dir: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel.FromString((saved_model_dir / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    compiled = {n.name for n in nodes if n.attr["_XlaMustCompile"].b}
    return {n.op for n in nodes} | ({"<XLA-compiled>"} if compiled else set())


def test_export_is_device_portable_and_serves_an_empty_note_in_a_batch(exported):
    # The recurrent layers trace to plain ops: no cuDNN kernel (which has no CPU kernel, so a
    # model exported where a GPU is visible would fail on a CPU-only TF Serving) and no XLA.
    _, path = exported
    ops = _op_types(path)
    assert "While" in ops or "StatelessWhile" in ops, sorted(ops)
    assert not {op for op in ops if "Cudnn" in op or "Xla" in op or op == "<XLA-compiled>"}, sorted(ops)
    # An all-padding row (an empty note) beside a real one: finite scores for both.
    out = tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(["", NOTES[0], "!!"]))
    probabilities = out["probabilities"].numpy()
    assert np.isfinite(probabilities).all() and probabilities.shape[0] == 3
    np.testing.assert_allclose(probabilities[0], probabilities[2], atol=1e-6)  # both have no tokens


def test_saved_model_cli_lists_both_signatures(exported):
    _, path = exported
    result = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                             str(path), "--all"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "signature_def['serving_default']" in result.stdout and "signature_def['explain']" in result.stdout
    assert (path / "assets" / "labels.tsv").exists() and (path / "assets" / "vocab.txt").exists()


def test_explain_outputs(exported):
    _, path = exported
    out = tf.saved_model.load(str(path)).signatures["explain"](text=tf.constant(NOTES))
    tokens = [t.decode() for t in out["tokens"].numpy()[0] if t]
    assert tokens == tokenize(NOTES[0])
    attention = out["attention"].numpy()
    assert attention.shape == (2, 5, out["tokens"].shape[1])
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    n_short = len(tokenize(NOTES[0]))
    assert not attention[0, :, n_short:].any()  # no weight on the padding of the shorter note


def test_top_codes_are_marked_coded_at_the_dev_tuned_threshold(exported, tmp_path, capsys):
    from jlan_tf.cli import predict

    run, path = exported
    threshold = json.loads((run / "metrics.json").read_text())["dev"]["threshold"]
    model = tf.saved_model.load(str(path))
    for signature in ("serving_default", "explain"):
        out = model.signatures[signature](text=tf.constant(NOTES))
        np.testing.assert_array_equal(out["top_coded"].numpy(), out["top_scores"].numpy() >= np.float32(threshold))
    scores = out["top_scores"].numpy()
    (tmp_path / "note.txt").write_text(NOTES[0], encoding="utf-8")
    assert predict.main(["--model", str(path), str(tmp_path / "note.txt"), "--format", "json"]) == 0
    codes = json.loads(capsys.readouterr().out)[0]["codes"]
    assert [c["coded"] for c in codes] == (scores[0] >= np.float32(threshold)).tolist()
    # The threshold comes from the run: a run whose dev threshold sits inside the top scores splits them.
    import shutil

    moved = shutil.copytree(run, tmp_path / "run")
    metrics = json.loads((moved / "metrics.json").read_text())
    metrics["dev"]["threshold"] = float(np.median(scores))
    (moved / "metrics.json").write_text(json.dumps(metrics))
    out = tf.saved_model.load(str(export_run(moved, out=tmp_path / "saved"))).signatures["serving_default"](
        text=tf.constant(NOTES))
    coded = out["top_coded"].numpy()
    assert coded.any() and not coded.all()
    np.testing.assert_array_equal(coded, out["top_scores"].numpy() >= np.float32(np.median(scores)))


def test_explain_attention_is_the_fusion_weighted_mix_at_the_top_codes(exported):
    import keras

    run, path = exported
    out = tf.saved_model.load(str(path)).signatures["explain"](text=tf.constant(NOTES))
    model = keras.models.load_model(run / "model.keras")
    vocab = Vocabulary.load(run / "vocab.txt")
    ids = [vocab.encode(tokenize(n)) for n in NOTES]
    batch = np.zeros((len(ids), out["tokens"].shape[1]), np.int32)
    for row, i in enumerate(ids):
        batch[row, :len(i)] = i
    outputs = model({"tokens": batch}, training=False)
    probabilities = tf.sigmoid(outputs["logits"]).numpy()
    w = outputs["fusion_weights"].numpy()
    a_self, a_label = outputs["self_attention"].numpy(), outputs["label_attention"].numpy()
    codes = [line.split("\t")[0] for line in (run / "labels.tsv").read_text().splitlines()]
    for doc in range(len(NOTES)):
        top = np.argsort(-probabilities[doc], kind="stable")[:5]
        assert [c.decode() for c in out["top_codes"].numpy()[doc]] == [codes[j] for j in top]
        np.testing.assert_allclose(out["top_scores"].numpy()[doc], probabilities[doc, top], atol=1e-5)
        expected = (w[doc, top, :1] * a_self[doc, top] + w[doc, top, 1:] * a_label[doc, top]) / w[doc, top].sum(-1,
                                                                                                   keepdims=True)
        np.testing.assert_allclose(out["attention"].numpy()[doc], expected, atol=1e-5)
    # The two maps differ, so a mix built from one map twice would fail the check above.
    assert np.abs(a_self - a_label).max() > 1e-3


def test_serving_parity_on_a_long_varied_note(exported):
    # Over 2,500 tokens, with numbers, Unicode and punctuation: truncation and ids as in Python.
    run, path = exported
    words = ["Niño", "ÁCIDO", "úrico", "7.2", "mg/dL", "café", "ß", "12x", "—", "heart", "failure", "Lasix",
             "pneumonia", "naïve", "x3", "2,500"]
    rng = np.random.default_rng(7)
    note = " ".join(rng.choice(words, 3200))
    assert len(tokenize(note)) == 2500  # cut at max_tokens
    served = tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant([note, NOTES[0]]))
    np.testing.assert_allclose(served["probabilities"].numpy(), keras_probabilities(run, [note, NOTES[0]]),
                               atol=1e-5)


def _parity(texts):
    graph = tokenize_in_graph(tf.constant(texts), 2500).to_list()
    for text, tokens in zip(texts, graph):
        assert [t.decode() for t in tokens] == tokenize(text)


def test_tokenizer_parity_on_synthetic_notes():
    docs = list(synthetic.generate(MIMIC3_TOP50, 200, seed=5)["train"])
    _parity([d.text for d in docs] + NOTES + ["", "   ", "_a_b 12 3x x3 ÉCHO café naïve ßtraße ﬁne Ǆ ½ ²x"])


@pytest.mark.parametrize("folder", ["text_files_en", "text_files"])
def test_tokenizer_parity_on_codiesp_notes(codiesp_root, folder):
    texts = [p.read_text(encoding="utf-8") for p in sorted((codiesp_root / "dev" / folder).glob("*.txt"))]
    assert len(texts) == 250
    _parity(texts)


def test_warmup_requests_parse_and_run(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    _, path = exported
    model = tf.saved_model.load(str(path))
    records = list(tf.data.TFRecordDataset(str(path / "assets.extra" / "tf_serving_warmup_requests")))
    assert len(records) == 2
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        text = tf.make_ndarray(request.inputs["text"])
        out = model.signatures[request.model_spec.signature_name](text=tf.constant(text))
        assert out["top_codes"].shape[0] == len(text)


def test_bad_input_is_answered(exported):
    _, path = exported
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    explain = tf.saved_model.load(str(path)).signatures["explain"]
    long_note = "heart failure " * 50_000  # 100,000 words
    out = serve(text=tf.constant(["", "   \n\t", long_note, "ÁCIDO úrico 日本語 🙂"]))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (4, 50) and np.isfinite(probabilities).all()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert explain(text=tf.constant([long_note]))["tokens"].shape[1] == 2500  # truncated, answered
    many = serve(text=tf.constant([f"note {i} with chf and afib" for i in range(1000)]))
    assert many["top_codes"].shape == (1000, 5)


def test_export_versions_and_missing_run(exported, tmp_path):
    run, path = exported
    second = export_run(run, out=path.parent, top_k=3)
    assert second.name == "2" and path.name == "1"
    with pytest.raises(FileExistsError):
        export_run(run, out=path.parent, version=1)
    with pytest.raises(FileNotFoundError, match="model.keras: missing"):
        export_run(tmp_path)


def test_predict_command_formats(exported, tmp_path, capsys):
    from jlan_tf.cli import predict

    _, path = exported
    files = []
    for i, note in enumerate(NOTES):
        files.append(tmp_path / f"note{i}.txt")
        files[-1].write_text(note, encoding="utf-8")
    assert predict.main(["--model", str(path.parent), *map(str, files), "--top-k", "3"]) == 0
    text = capsys.readouterr().out
    assert text.count("== ") == 2 and "evidence:" in text
    assert predict.main(["--model", str(path), str(files[0]), "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    assert len(record["codes"]) == 5 and {"code", "description", "probability", "evidence"} <= set(record["codes"][0])
    assert all(e["token"] in tokenize(NOTES[0]) for e in record["codes"][0]["evidence"])
    assert predict.main(["--model", str(tmp_path), str(files[0])]) == 2
    assert "no SavedModel" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["exported", "exported_lexical"])
def test_explain_contribution_is_each_tokens_share_of_the_logit(which, request):
    import keras

    from jlan_tf.attribution import token_contributions

    run, path = request.getfixturevalue(which)
    explain = tf.saved_model.load(str(path)).signatures["explain"]
    model = keras.models.load_model(run / "model.keras")
    vocab = Vocabulary.load(run / "vocab.txt")
    for notes in (NOTES, NOTES[:1]):  # a batch (Keras' loop) and one note (the fused-kernel twin)
        out = explain(text=tf.constant(notes))
        ids = [vocab.encode(tokenize(n)) for n in notes]
        batch = np.zeros((len(ids), out["tokens"].shape[1]), np.int32)
        for row, i in enumerate(ids):
            batch[row, :len(i)] = i
        expected = token_contributions(model, batch)
        for doc in range(len(notes)):
            top = np.argsort(-expected["logits"][doc], kind="stable")[:5]
            np.testing.assert_allclose(out["contribution"].numpy()[doc], expected["contributions"][doc, top],
                                       rtol=1e-3, atol=1e-5)
    assert (out["contribution"].numpy() != 0).any()
    np.testing.assert_allclose(tf.saved_model.load(str(path)).signatures["serving_default"](
        text=tf.constant(NOTES))["probabilities"].numpy(), keras_probabilities(run, NOTES), rtol=1e-4, atol=1e-5)
    if which == "exported_lexical":  # one epoch moved the TF-IDF part's kernel away from 0
        assert np.abs(model.get_layer("lexical_output").kernel.numpy()).max() > 0


def test_evidence_ranking_choice(exported, tmp_path, capsys):
    from jlan_tf import evidence
    from jlan_tf.cli import predict

    _, path = exported
    outputs = {k: v.numpy() for k, v in
               tf.saved_model.load(str(path)).signatures["explain"](text=tf.constant(NOTES[:1])).items()}
    by_attention = evidence.from_explain(["a"], outputs, 2, 3, by="attention")[0].codes[0]
    by_contribution = evidence.from_explain(["a"], outputs, 2, 3)[0].codes[0]
    best = lambda key: list(np.argsort(-outputs[key][0, 0, :len(tokenize(NOTES[0]))], kind="stable")[:3])
    assert [e.position for e in by_attention.evidence] == best("attention")
    assert [e.position for e in by_contribution.evidence] == best("contribution")
    del outputs["contribution"]  # an export made before the contribution output
    with pytest.raises(KeyError, match="export the run again"):
        evidence.from_explain(["a"], outputs, 2, 3)
    note = tmp_path / "note.txt"
    note.write_text(NOTES[0], encoding="utf-8")
    assert predict.main(["--model", str(path), str(note), "--evidence", "attention", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    assert abs(sum(e["weight"] for e in record["codes"][0]["evidence"])) <= 1.0  # attention weights: a share


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_html_page_renders_the_evidence_in_chromium(exported, tmp_path):
    from jlan_tf.cli import predict

    _, path = exported
    note = tmp_path / "note.txt"
    note.write_text(NOTES[0], encoding="utf-8")
    page = tmp_path / "evidence.html"
    assert predict.main(["--model", str(path), str(note), "--format", "html", "--out", str(page)]) == 0
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<mark class="evidence"') >= 5 and "<details open" in dom.stdout
    artifacts = Path(os.environ.get("JLAN_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "evidence_page.png"
    shot.unlink(missing_ok=True)  # an old screenshot must not pass for this one
    done = subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,700", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 5000  # a real picture, kept as an artifact


def test_candidates_serve_the_models_probabilities_on_each_notes_candidates(exported, tmp_path):
    import keras

    from jlan_tf.candidates import first_stage_logits, restrict

    run, _ = exported
    path = export_run(run, out=tmp_path / "candidates", top_k=5, candidates=3)
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    model = keras.models.load_model(run / "model.keras")
    vocab = Vocabulary.load(run / "vocab.txt")
    for notes in (NOTES, NOTES[:1]):  # a batch, and one note (the fused-kernel branch)
        ids = [vocab.encode(tokenize(n)) for n in notes]
        batch = np.zeros((len(ids), max(len(i) for i in ids)), np.int32)
        for row, i in enumerate(ids):
            batch[row, :len(i)] = i
        first = first_stage_logits(model, tf.constant(batch)).numpy()
        expected = restrict(keras_probabilities(run, notes), first, 3)
        got = served(text=tf.constant(notes))["probabilities"].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert ((got > 0).sum(axis=1) == 3).all()


def test_training_chooses_the_candidates_on_dev_and_the_export_serves_them(exported, small_synthetic, tmp_path,
                                                                          monkeypatch):
    import keras

    from jlan_tf import candidates, training
    from jlan_tf.candidates import choose_count, first_stage_scores

    run, _ = exported
    data, model = load_prepared(small_synthetic), keras.models.load_model(run / "model.keras")
    config = Config().apply_overrides(TINY)
    assert "candidates" not in training.evaluate(model, data, config, {"best_epoch": 1, "epochs": []})[0]
    monkeypatch.setattr(training, "suggested_candidates", lambda m: 1024)  # as if it had thousands of codes
    monkeypatch.setattr(candidates, "AUTO_COUNTS", (2, 4, 8, 10_000))
    result, predictions = training.evaluate(model, data, config, {"best_epoch": 1, "epochs": []})
    scores, y_true = predictions["dev"]
    expected = choose_count(scores, first_stage_scores(model, data, "dev", 64), y_true, result["dev"]["threshold"])
    assert result["candidates"] == expected and list(expected["by_count"]) == [2, 4, 8]  # those below the codes
    # The export serves what metrics.json says, and every code for more top codes than were measured.
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["candidates"] = {"chosen": 3, "top_k": 5}
    (copy / "metrics.json").write_text(json.dumps(metrics))
    for top_k, nonzero in ((5, 3), (6, data.num_labels)):
        path = export_run(copy, out=tmp_path / f"auto{top_k}", top_k=top_k)
        got = tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(NOTES))["probabilities"]
        assert ((got.numpy() > 0).sum(axis=1) == nonzero).all()


def test_candidates_recall_measures_a_trained_run(exported, small_synthetic, tmp_path):
    from scripts import load

    run = tmp_path / "run"
    shutil.copytree(exported[0], run)
    (run / "data.json").write_text(json.dumps({"path": str(small_synthetic)}))  # as jlan-train writes it
    out = tmp_path / "trained.json"
    # --counts-of 2048: the largest count tried is every code, the others an eighth to a half of them.
    assert load("candidates_recall").main(["--run", str(run), "--counts-of", "2048", "--out", str(out)]) == 0
    (one,) = json.loads(out.read_text())["runs"]
    labels = one["labels"]
    assert [int(n) for n in one["splits"]["dev"]["at"]] == [round(labels * f) for f in (1 / 8, 1 / 4, 1 / 2, 1)]
    for split in ("dev", "test"):
        block = one["splits"][split]
        at = list(block["at"].values())
        assert all(0 <= m["agreement"] <= 1 and 0 <= m["gold_recall"] <= 1 for m in at)
        assert [m["agreement"] for m in at] == sorted(m["agreement"] for m in at)  # more candidates, more kept
        assert at[-1]["agreement"] == at[-1]["gold_recall"] == 1.0 and at[-1]["map"] == block["map_every_code"]
    chosen = next(int(n) for n, m in one["splits"]["dev"]["at"].items() if m["agreement"] >= 0.995)
    assert one["chosen_on_dev"] == chosen
