import json

import numpy as np
import pytest

from jlan_tf.cli import prepare as prepare_cli
from jlan_tf.data import DataError, Document, load_prepared, write_prepared
from jlan_tf.data.sources import prepare_jsonl


def _docs(n, prefix="d", codes=("a",)):
    return [Document(f"{prefix}{i}", f"patient with fever and cough number {i} word{i % 3}", list(codes)) for i in range(n)]


def _write(out, **kw):
    splits = {"train": _docs(6, "tr"), "dev": _docs(2, "dv", ("a", "b")), "test": _docs(2, "te", ("c",))}
    return write_prepared(out, source="unit", settings={}, splits=splits, descriptions={"a": "Alpha"},
                          embedding_dim=4, word2vec_epochs=1, **kw)


def test_layout_labels_vocab_and_hashes(tmp_path):
    data = load_prepared(_write(tmp_path / "p"))
    assert data.codes == ["a", "b"] and data.descriptions == ["Alpha", "b"]
    assert list(data.train_counts) == [6, 0]
    assert data.vocab.tokens[2:5] == ["and", "cough", "fever"]  # all in 6 docs, alphabetical
    assert "word0" in data.vocab.index and "0" not in data.vocab.index
    assert data.embeddings.shape == (len(data.vocab), 4) and not data.embeddings[0].any()
    test = data.splits["test"]  # "c" is in test only: not a label, but kept as the notes' gold code
    np.testing.assert_array_equal(test.multi_hot(2), [[0, 0], [0, 0]])
    assert test.gold_codes == [["c"], ["c"]] and data.splits["dev"].gold_by_id()["dv0"] == ["a", "b"]
    meta = data.meta
    assert meta["counts"]["train_documents"] == 6 and meta["warnings"] == {"codes without a description": 1}
    assert set(meta["sha256"]) == {p.name for p in data.path.iterdir()} - {"meta.json"}


def test_twice_gives_identical_bytes(tmp_path):
    a, b = _write(tmp_path / "a"), _write(tmp_path / "b")
    for path in a.iterdir():
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name


def test_refuses_to_overwrite_and_failure_leaves_nothing(tmp_path):
    out = _write(tmp_path / "p")
    with pytest.raises(DataError, match="already exists"):
        _write(out)

    def broken():
        yield Document("x", "some text here", ["a"])
        raise DataError("source.csv:7: malformed CSV record")

    target = tmp_path / "q"
    with pytest.raises(DataError, match="source.csv:7"):
        write_prepared(target, source="unit", settings={}, descriptions={},
                       splits={"train": broken(), "dev": [], "test": []})
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["p"]


def test_overwrite_replaces_atomically(tmp_path):
    out = _write(tmp_path / "p")
    _write(out, overwrite=True)
    assert load_prepared(out).meta["counts"]["train_documents"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_empty_long_and_uncoded_notes_are_counted(tmp_path):
    train = _docs(4) + [Document("empty", "  12 34 ", ["a"]), Document("long", "word " * 100_000, ["a"]),
                        Document("uncoded", "fever cough", [])]
    out = write_prepared(tmp_path / "p", source="unit", settings={}, splits={"train": train, "dev": [], "test": []},
                         descriptions={"a": "A"}, embedding_dim=4, word2vec_epochs=1)
    data = load_prepared(out)
    assert data.meta["warnings"] == {"documents without codes": 1, "empty notes skipped": 1,
                                     "notes truncated to 2500 tokens": 1}
    assert "empty" not in data.splits["train"].ids and data.splits["train"].lengths.max() == 2500


def test_duplicate_ids_are_an_error(tmp_path):
    with pytest.raises(DataError, match="appears twice"):
        write_prepared(tmp_path / "p", source="unit", settings={}, descriptions={},
                       splits={"train": _docs(2), "dev": _docs(1), "test": []})


def _jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_source_and_its_errors(tmp_path, capsys):
    rows = [{"id": i, "text": f"chest pain and dyspnea {i}", "codes": ["I20.9"]} for i in range(4)]
    train = _jsonl(tmp_path / "train.jsonl", rows)
    dev = _jsonl(tmp_path / "dev.jsonl", [{"id": "d1", "text": "chest pain", "codes": []}])
    test = _jsonl(tmp_path / "test.jsonl", [{"id": "t1", "text": "dyspnea", "codes": ["R06.0"]}])
    codes = tmp_path / "codes.tsv"
    codes.write_text("I20.9\tAngina pectoris, unspecified\n")
    out = prepare_jsonl(tmp_path / "p", train, dev, test, codes=codes, embedding_dim=4, word2vec_epochs=1)
    data = load_prepared(out)
    assert data.codes == ["I20.9"] and data.descriptions[0] == "Angina pectoris, unspecified"  # R06.0: test only

    secret = "PATIENT JOHN DOE SECRET"
    bad = _jsonl(tmp_path / "bad.jsonl", [rows[0], f'{{"id": 9, "text": "{secret}", "codes": "I20.9"}}'])
    code = prepare_cli.main(["jsonl", "--train", str(bad), "--dev", str(dev), "--test", str(test),
                             "--out", str(tmp_path / "bad_out")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.jsonl:2: field 'codes'" in err and secret not in err
    assert not (tmp_path / "bad_out").exists()
    broken = _jsonl(tmp_path / "broken.jsonl", ['{"id": 1, "text": "x'])
    with pytest.raises(DataError, match=r"broken.jsonl:1: not valid JSON"):
        prepare_jsonl(tmp_path / "b", broken, dev, test)
    with pytest.raises(DataError, match="missing.jsonl: file not found"):
        prepare_jsonl(tmp_path / "m", tmp_path / "missing.jsonl", dev, test)


def test_cli_prints_summary(tmp_path, capsys):
    code = prepare_cli.main(["synthetic", "--n-docs", "60", "--embedding-dim", "4", "--word2vec-epochs", "1",
                             "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert code == 0 and "documents: train 48, dev 6, test 6" in out and "labels: 50" in out


def test_word2vec_epochs_grow_on_small_corpora(tmp_path):
    from jlan_tf.data.word2vec import word2vec_epochs_for

    assert word2vec_epochs_for(12_000_000, 52_000) == 5   # MIMIC-III-50 sized: gensim's default
    assert word2vec_epochs_for(301_628, 632) == 5         # the small synthetic corpus of the experiments
    assert word2vec_epochs_for(115_936, 5_026) == 44      # CodiEsp-50: 1000 * 5026 / 115936 = 43.4
    assert word2vec_epochs_for(40, 20) == 50              # capped
    assert word2vec_epochs_for(69_686_994, 51_919) == 5   # MIMIC-III-full sized: 348M tokens read in all
    assert word2vec_epochs_for(161_555_501, 70_002) == 2  # MIMIC-IV sized: 5 epochs would read 808M
    assert word2vec_epochs_for(1_000_000_000, 70_000) == 1
    assert word2vec_epochs_for(200_000_000, 700_000) == 4  # not 2: never below 1000 sightings a word
    splits = {"train": _docs(6, "tr"), "dev": _docs(2, "dv"), "test": _docs(2, "te")}
    data = load_prepared(write_prepared(tmp_path / "p", source="unit", settings={}, splits=splits,
                                        descriptions={}, embedding_dim=4))
    assert data.meta["word2vec"]["epochs"] == 50  # 6 tiny notes: the cap, recorded in meta.json


def test_word2vec_runs_on_every_core_only_on_a_large_corpus(monkeypatch):
    from jlan_tf.data import word2vec

    monkeypatch.setattr(word2vec.joblib, "cpu_count", lambda: 32)
    assert word2vec.word2vec_workers_for(12_000_000) == 1   # MIMIC-III-50 sized: one thread, the same bytes
    assert word2vec.word2vec_workers_for(72_000_000) == 8   # MIMIC-III-full sized: every core, at most 8
    monkeypatch.setattr(word2vec.joblib, "cpu_count", lambda: 2)
    assert word2vec.word2vec_workers_for(165_000_000) == 2


def test_folder_from_before_the_word2vec_rule_gets_a_warning(tmp_path, caplog):
    splits = {"train": _docs(6, "tr"), "dev": _docs(2, "dv"), "test": _docs(2, "te")}
    out = write_prepared(tmp_path / "p", source="unit", settings={}, splits=splits, descriptions={},
                         embedding_dim=4, word2vec_epochs=5)
    load_prepared(out)
    assert "word2vec" not in caplog.text  # 5 epochs asked for: the user's choice
    meta = json.loads((out / "meta.json").read_text())
    del meta["word2vec"]["epochs_chosen"]  # as written before the rule
    (out / "meta.json").write_text(json.dumps(meta))
    load_prepared(out)
    assert "prepared with 5 word2vec epochs, fewer than the 50" in caplog.text
