"""One test per bad-input message: each names the file and line (or field), never note text."""

import shutil

import pytest

from jlan_tf.data import DataError, load_prepared
from jlan_tf.data.codiesp import _read_codes
from jlan_tf.data.jsonl import read_code_table
from jlan_tf.data.mimic3 import read_split_ids
from jlan_tf.data.readers import csv_rows
from jlan_tf.data.prepared import WarningCounter


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_codiesp_code_line_without_a_tab(tmp_path):
    path = _write(tmp_path / "trainD.tsv", "S0004-06142005000500011-1\ti10\nS0004-06142005000500011-1 e11.9\n")
    with pytest.raises(DataError, match=r"trainD.tsv:2: expected doc_id<TAB>code"):
        _read_codes(path)


def test_code_table_without_a_tab(tmp_path):
    path = _write(tmp_path / "codes.tsv", "428.0\theart failure\n401.9 hypertension\n")
    with pytest.raises(DataError, match=r"codes.tsv:2: expected code<TAB>description"):
        read_code_table(path)


@pytest.mark.parametrize("content,message", [
    ("ROW_ID,HADM_ID,ICD9_CODE\n1,100,4280\n2,100\n", r"DIAGNOSES_ICD.csv:3: expected 3 fields, found 2"),
    ("", r"DIAGNOSES_ICD.csv: empty file \(expected a header row\)"),
    ('"ROW_ID"X,HADM_ID,ICD9_CODE\n1,100,4280\n', r"DIAGNOSES_ICD.csv:1: malformed CSV header"),
    ("ROW_ID,HADM_ID\n1,100\n", r"DIAGNOSES_ICD.csv:1: missing column\(s\) ICD9_CODE"),
], ids=["wrong field count", "empty file", "malformed header", "missing column"])
def test_mimic_csv_errors(tmp_path, content, message):
    path = _write(tmp_path / "DIAGNOSES_ICD.csv", content)
    with pytest.raises(DataError, match=message):
        list(csv_rows(path, ["HADM_ID", "ICD9_CODE"], WarningCounter()))


def test_split_file_with_a_non_numeric_id(tmp_path):
    path = _write(tmp_path / "train_50_hadm_ids.csv", "100\n101\nabc\n")
    with pytest.raises(DataError, match=r"train_50_hadm_ids.csv:3: expected a HADM_ID"):
        read_split_ids(path)


@pytest.mark.parametrize("line,message", [("C1\tfever", "expected 3 tab-separated fields"),
                                          ("C1\tfever\tmany", r"field 3 \(train count\) is not a whole number")])
def test_broken_labels_tsv(small_synthetic, tmp_path, line, message):
    folder = shutil.copytree(small_synthetic, tmp_path / "prepared")
    labels = (folder / "labels.tsv").read_text(encoding="utf-8").splitlines()
    labels[1] = line
    (folder / "labels.tsv").write_text("\n".join(labels) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"labels.tsv:2: {message}"):
        load_prepared(folder)


def test_undecodable_bytes_of_a_jsonl_source_reach_its_own_meta(tmp_path):
    from jlan_tf.data import load_prepared
    from jlan_tf.data.sources import prepare_jsonl

    for name in ("train", "dev", "test"):
        lines = [b'{"id": "%s%d", "text": "fever and cough \xff\xfe here", "codes": ["A"]}' % (name.encode(), i)
                 for i in range(3)]
        (tmp_path / f"{name}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    data = load_prepared(prepare_jsonl(tmp_path / "p", tmp_path / "train.jsonl", tmp_path / "dev.jsonl",
                                       tmp_path / "test.jsonl", embedding_dim=4, word2vec_epochs=1))
    assert data.meta["warnings"]["undecodable bytes replaced"] == 2 * 9  # two bad bytes in each of 9 notes
