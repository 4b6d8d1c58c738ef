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
