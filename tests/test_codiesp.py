import pytest

from jlan_tf.data import DataError, load_prepared
from jlan_tf.data.descriptions import icd10cm_description
from jlan_tf.data.sources import prepare_codiesp


def test_x_padded_codes_resolve():
    assert icd10cm_description("t81.4xx") == icd10cm_description("T81.4")
    assert icd10cm_description("n44.8") and icd10cm_description("zz99.9") is None


def _fake_release(root, splits=("train", "dev", "test")):
    for split in splits:
        (root / split / "text_files_en").mkdir(parents=True)
        rows = []
        for i in range(3):
            doc = f"{split}-{i}"
            (root / split / "text_files_en" / f"{doc}.txt").write_text(f"Patient with pain and fever {split} {i}.\n")
            rows.append(f"{doc}\tr52\n{doc}\tr50.9\n")
        (root / split / f"{split}D.tsv").write_text("".join(rows) + f"{split}-missing\tr52\n")
    return root


def test_official_test_split_is_used_when_present(tmp_path):
    root = _fake_release(tmp_path / "release")
    data = load_prepared(prepare_codiesp(tmp_path / "p", root, embedding_dim=4, word2vec_epochs=1))
    assert data.splits["test"].ids == ["test-0", "test-1", "test-2"]
    assert data.codes == ["r50.9", "r52"] and data.descriptions[1] == "Pain, unspecified"
    assert data.meta["warnings"]["train: coded documents without a text file"] == 1


def test_bad_layout(tmp_path):
    with pytest.raises(DataError, match="not a CodiEsp release"):
        prepare_codiesp(tmp_path / "p", tmp_path)
    root = _fake_release(tmp_path / "r", ("train", "dev"))
    with pytest.raises(DataError, match="text_files: folder not found"):
        prepare_codiesp(tmp_path / "p", root, lang="es")


def test_real_codiesp_train_dev(codiesp_root, tmp_path):
    out = prepare_codiesp(tmp_path / "p", codiesp_root, "en", "D", top_codes=50, embedding_dim=8, word2vec_epochs=1)
    data = load_prepared(out)
    sizes = {k: len(v) for k, v in data.splits.items()}
    assert sizes["test"] == 250 and sizes["train"] + sizes["dev"] == 500 and 60 < sizes["dev"] < 140
    assert data.num_labels == 50 and data.train_counts.min() > 0
    described = sum(d != c for d, c in zip(data.descriptions, data.codes))
    assert described >= 48
    assert data.meta["settings"]["layout"].startswith("no test/")


SPANISH = "Paciente con dolor torácico y fiebre de 39 grados.\nDolor abdominal intenso.\n"


def _fake_spanish_release(root, x_rows=None):
    """Train/dev/test of 2 notes each, Spanish text, D codes and X evidence spans."""
    for split in ("train", "dev", "test"):
        (root / split / "text_files").mkdir(parents=True)
        d_rows, x = [], []
        for i in range(2):
            doc = f"{split}-{i}"
            (root / split / "text_files" / f"{doc}.txt").write_text(SPANISH, encoding="utf-8")
            d_rows.append(f"{doc}\tr07.9\n{doc}\tr50.9\n{doc}\tr10.0\n")
            x += [f"{doc}\tDIAGNOSTICO\tr07.9\tdolor torácico\t14 28\n",           # "dolor torácico"
                  f"{doc}\tDIAGNOSTICO\tr50.9\tfiebre 39\t31 37;41 43\n",         # "fiebre" + "39" (no token)
                  f"{doc}\tDIAGNOSTICO\tr10.0\tdolor abdominal\t51 56;56 56\n",   # "Dolor", an empty piece
                  f"{doc}\tPROCEDIMIENTO\tbw03zzz\tx\t0 8\n",                     # not task D: ignored
                  f"{doc}\tDIAGNOSTICO\tr99\tgrados\t44 50\n"]                    # "grados"
        (root / split / f"{split}D.tsv").write_text("".join(d_rows))
        (root / split / f"{split}X.tsv").write_text(x_rows or "".join(x), encoding="utf-8")
    return root


def test_spanish_evidence_spans_become_token_positions(tmp_path):
    root = _fake_spanish_release(tmp_path / "release")
    data = load_prepared(prepare_codiesp(tmp_path / "p", root, lang="es", embedding_dim=4, word2vec_epochs=1))
    # tokens: paciente0 con1 dolor2 torácico3 y4 fiebre5 de6 grados7 dolor8 abdominal9 ("39" has no letter)
    label = {c: i for i, c in enumerate(data.codes)}
    assert data.codes == ["r07.9", "r10.0", "r50.9"]
    rows = data.splits["test"].evidence
    expected = sorted([(d, label["r07.9"], 2) for d in (0, 1)] + [(d, label["r07.9"], 3) for d in (0, 1)]
                      + [(d, label["r50.9"], 5) for d in (0, 1)] + [(d, label["r10.0"], 8) for d in (0, 1)])
    assert [tuple(r) for r in rows] == expected
    assert data.meta["evidence"] == {"train": 6, "dev": 6, "test": 6}
    # The span for r99, a code the notes do not have, is counted, not kept.
    assert data.meta["warnings"]["test: evidence spans for codes the document does not have"] == 2


def test_english_keeps_no_evidence(tmp_path):
    root = _fake_release(tmp_path / "release")
    data = load_prepared(prepare_codiesp(tmp_path / "p", root, embedding_dim=4, word2vec_epochs=1))
    assert data.splits["test"].evidence is None and data.meta["evidence"] == {}


@pytest.mark.parametrize("row, message", [
    ("train-0\tDIAGNOSTICO\tr07.9\t14 28\n", r"trainX.tsv:1: expected 5 tab-separated fields, got 4"),
    ("train-0\tDIAGNOSTICO\tr07.9\tdolor\t28 14\n", r"trainX.tsv:1: field 5 must be 'start end"),
    ("train-0\tDIAGNOSTICO\tr07.9\tdolor\tfourteen\n", r"trainX.tsv:1: field 5 must be 'start end"),
])
def test_bad_evidence_rows(tmp_path, row, message):
    root = _fake_spanish_release(tmp_path / "release", x_rows=row)
    with pytest.raises(DataError, match=message) as error:
        prepare_codiesp(tmp_path / "p", root, lang="es", embedding_dim=4, word2vec_epochs=1)
    assert "dolor" not in str(error.value)  # the span text (note text) is never quoted
    assert not (tmp_path / "p").exists()


def test_real_codiesp_spanish_evidence(codiesp_root, tmp_path):
    from jlan_tf.tokenization import tokenize

    out = prepare_codiesp(tmp_path / "p", codiesp_root, "es", "D", top_codes=50, embedding_dim=8, word2vec_epochs=1)
    data = load_prepared(out)
    for name in ("dev", "test"):
        split = data.splits[name]
        pairs = {tuple(r) for r in split.evidence[:, :2]}
        positives = {(d, int(l)) for d in range(len(split))
                     for l in split.labels[split.label_offsets[d]:split.label_offsets[d + 1]]}
        assert pairs == positives  # every coded (note, code) pair has its span, and only those
    # The gold tokens of a span read back as the span's own words (where the vocabulary knows them).
    x_rows = [line.split("\t") for line in (codiesp_root / "dev" / "devX.tsv").read_text(encoding="utf-8").splitlines()]
    test, label = data.splits["test"], {c: i for i, c in enumerate(data.codes)}
    checked = 0
    for doc_id, kind, code, span_text, _ in x_rows[:300]:
        if kind != "DIAGNOSTICO" or code not in label or ";" in _:
            continue
        d = test.ids.index(doc_id)
        positions = test.evidence[(test.evidence[:, 0] == d) & (test.evidence[:, 1] == label[code]), 2]
        words = set(data.vocab.decode(test.tokens[test.offsets[d] + positions]))
        assert set(tokenize(span_text)) & words or words == {"<unk>"}
        checked += 1
    assert checked > 20


def test_the_label_set_never_reads_test_and_every_gold_code_is_kept(tmp_path):
    import numpy as np

    from jlan_tf.codiesp_task import add_official_map

    root = _fake_release(tmp_path / "release")
    with open(root / "test" / "testD.tsv", "a") as f:
        f.write("test-0\tz99.9\n")  # a code only the test split has
    data = load_prepared(prepare_codiesp(tmp_path / "p", root, embedding_dim=4, word2vec_epochs=1))
    assert data.codes == ["r50.9", "r52"]
    assert data.splits["test"].gold_by_id()["test-0"] == ["r52", "r50.9", "z99.9"]
    assert (tmp_path / "p" / "test.codes.tsv").read_text().splitlines()[0] == "test-0\tr52 r50.9 z99.9"
    # a perfect ranking of the label set: the project's map is 1, the task's counts z99.9 as missed
    scores = data.splits["test"].multi_hot(2)
    block = add_official_map({}, data, "test", scores)
    assert block["codiesp_map"] == pytest.approx(((1 + 1) / 3 + 1 + 1) / 3)
    assert add_official_map({}, data, "dev", np.zeros((3, 2)))["codiesp_map"] == 1.0  # ties: label order


def test_the_terminology_label_space(tmp_path):
    from jlan_tf.data.codiesp import read_codiesp

    root = _fake_release(tmp_path / "release")
    _, descriptions, labels, settings = read_codiesp(root, label_space="terminology")
    assert len(labels) > 90_000 and {"r52", "r50.9", "a00.0", "i25.10"} <= set(labels) and labels == sorted(labels)
    assert descriptions["a00.0"].startswith("Cholera") and settings["label_space"] == "terminology"
    with pytest.raises(DataError, match="label space"):
        read_codiesp(root, label_space="everything")
