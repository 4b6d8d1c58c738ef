"""MIMIC-III adapter on tiny hand-written CSVs in MIMIC's format (no real MIMIC data)."""

import csv
import gzip

import pytest

from jlan_tf.data import DataError, load_prepared
from jlan_tf.data.descriptions import dot_icd9
from jlan_tf.data.sources import prepare_mimic3

NOTE_COLUMNS = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME", "STORETIME", "CATEGORY",
                "DESCRIPTION", "CGID", "ISERROR", "TEXT"]
NOTES = [
    # row, hadm, date, category, description, iserror, text
    (1, "100", "2150-01-05", "Discharge summary", "Report", "",
     'Admission Date: [**2150-1-1**]\nChief complaint: "dyspnea", CHF, afib\n\nOn coumadin, furosemide.'),
    (2, "100", "2150-01-02", "Discharge summary", "Addendum", "", "Addendum: patient intubated earlier"),
    (3, "100", "2150-01-03", "Nursing", "Nursing Progress Note", "", "nursing text not used"),
    (4, "101", "2151-03-01", "Discharge summary", "Report", "", "Hypertension and sepsis, central line placed"),
    (5, "102", "2152-01-01", "Radiology", "CHEST X-RAY", "", "no discharge summary for this admission"),
    (6, "103", "2153-01-01", "Discharge summary", "Report", "", "admission outside the splits"),
    (7, "104", "2154-01-01", "Discharge summary", "Report", "1", "erroneous note"),
    (8, "104", "2154-01-02", "Discharge summary", "Report", "", "acute kidney injury resolved"),
    (9, "105", "2155-01-01", "Discharge summary", "Report", "", "pneumonia treated"),
]
DIAGNOSES = [("100", "4280"), ("100", "42731"), ("100", "V5861"), ("100", "E8859"), ("101", "4019"),
             ("101", "99591"), ("104", "5849"), ("105", "486"), ("103", "311")]
PROCEDURES = [("100", "3615"), ("100", "9604"), ("101", "3893")]
SPLITS = {"train": ["100", "101", "102"], "dev": ["104"], "test": ["105", "999"]}


def write_mimic(root, gz=False, notes=NOTES):
    mimic, splits = root / "mimic", root / "splits"
    mimic.mkdir(parents=True)
    splits.mkdir()

    def write(name, header, rows):
        path = mimic / (name + (".gz" if gz else ""))
        with (gzip.open(path, "wt", newline="") if gz else open(path, "w", newline="")) as f:
            writer = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC)
            writer.writerow(header)
            writer.writerows(rows)

    write("NOTEEVENTS.csv", NOTE_COLUMNS,
          [(r, 7, h, d, "", "", c, desc, "", e, t) for r, h, d, c, desc, e, t in notes])
    write("DIAGNOSES_ICD.csv", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"],
          [(i, 7, h, 1, code) for i, (h, code) in enumerate(DIAGNOSES)])
    write("PROCEDURES_ICD.csv", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"],
          [(i, 7, h, 1, code) for i, (h, code) in enumerate(PROCEDURES)])
    write("D_ICD_DIAGNOSES.csv", ["ROW_ID", "ICD9_CODE", "SHORT_TITLE", "LONG_TITLE"],
          [(1, "4280", "CHF NOS", "Congestive heart failure, unspecified (MIMIC table)")])
    for name, ids in SPLITS.items():
        for setting in ("50", "full"):
            (splits / f"{name}_{setting}_hadm_ids.csv").write_text("\n".join(ids) + "\n")
    return mimic, splits


def test_dotting_as_caml():
    assert dot_icd9("4280", True) == "428.0" and dot_icd9("V5861", True) == "V58.61"
    assert dot_icd9("E8859", True) == "E885.9" and dot_icd9("311", True) == "311"
    assert dot_icd9("3615", False) == "36.15" and dot_icd9("9604", False) == "96.04"


@pytest.mark.parametrize("gz", [False, True])
def test_top50_setting(tmp_path, gz):
    mimic, splits = write_mimic(tmp_path, gz=gz)
    data = load_prepared(prepare_mimic3(tmp_path / "p", mimic, splits, "50", embedding_dim=4, word2vec_epochs=1,
                                        min_doc_freq=1))
    assert data.num_labels == 50
    assert data.splits["train"].ids == ["100", "101"]  # 102 has no discharge summary
    assert data.splits["dev"].ids == ["104"] and data.splits["test"].ids == ["105"]
    labels = lambda split, i: [data.codes[j] for j in data.splits[split].multi_hot(50)[i].nonzero()[0]]
    assert labels("train", 0) == ["36.15", "427.31", "428.0", "96.04", "V58.61"]  # E885.9 is not a top-50 code
    assert labels("train", 1) == ["38.93", "401.9"]
    assert data.descriptions[data.codes.index("428.0")] == "Congestive heart failure, unspecified (MIMIC table)"
    assert data.descriptions[data.codes.index("96.04")] == "Insertion of endotracheal tube"
    # The report comes before the addendum, whatever their dates; the nursing note is not used.
    split = data.splits["train"]
    words = data.vocab.decode(split.tokens[split.offsets[0]:split.offsets[1]])
    assert words[:4] == ["admission", "date", "chief", "complaint"] and words[-4:] == ["addendum", "patient", "intubated", "earlier"]
    assert "nursing" not in words
    assert len(data.splits["dev"].tokens) == 4  # "acute kidney injury resolved"; the ISERROR note is skipped
    assert data.meta["warnings"] == {"notes marked ISERROR skipped": 1, "split admissions without a discharge summary": 2}


def test_full_setting_keeps_every_code(tmp_path):
    mimic, splits = write_mimic(tmp_path)
    data = load_prepared(prepare_mimic3(tmp_path / "p", mimic, splits, "full", embedding_dim=4, word2vec_epochs=1))
    assert data.codes == sorted(["428.0", "427.31", "V58.61", "E885.9", "401.9", "995.91", "584.9", "486",
                                 "36.15", "96.04", "38.93"])
    assert "311" not in data.codes  # only admission 103 has it, and 103 is in no split


def test_broken_quote_names_file_and_line(tmp_path):
    mimic, splits = write_mimic(tmp_path)
    path = mimic / "NOTEEVENTS.csv"
    lines = path.read_text().splitlines(keepends=True)
    secret = "SECRET-PATIENT-TEXT"
    at = next(i for i, line in enumerate(lines) if line.startswith("4,"))  # a record after a multi-line one
    lines.insert(at, f'10,7,"101","2151-03-02","","","Discharge summary","Report","","","{secret} "quote" broken"\n')
    path.write_text("".join(lines))
    with pytest.raises(DataError) as info:
        prepare_mimic3(tmp_path / "p", mimic, splits, "50")
    assert f"NOTEEVENTS.csv:{at + 1}: malformed CSV record" in str(info.value) and secret not in str(info.value)
    assert not (tmp_path / "p").exists()


def test_missing_file_and_column(tmp_path):
    mimic, splits = write_mimic(tmp_path)
    (mimic / "PROCEDURES_ICD.csv").unlink()
    with pytest.raises(DataError, match=r"PROCEDURES_ICD.csv: file not found"):
        prepare_mimic3(tmp_path / "p", mimic, splits, "50")
    (mimic / "PROCEDURES_ICD.csv").write_text("ROW_ID,HADM_ID\n1,100\n")
    with pytest.raises(DataError, match=r"PROCEDURES_ICD.csv:1: missing column\(s\) ICD9_CODE"):
        prepare_mimic3(tmp_path / "p", mimic, splits, "50")
    (splits / "dev_50_hadm_ids.csv").write_text("104\nabc\n")
    with pytest.raises(DataError, match=r"dev_50_hadm_ids.csv:2: expected a HADM_ID"):
        prepare_mimic3(tmp_path / "p", mimic, splits, "50")


def test_non_utf8_bytes_are_counted(tmp_path):
    mimic, splits = write_mimic(tmp_path)
    path = mimic / "NOTEEVENTS.csv"
    path.write_bytes(path.read_bytes().replace(b"pneumonia treated", b"pneumonia \xff\xfe treated"))
    data = load_prepared(prepare_mimic3(tmp_path / "p", mimic, splits, "50", embedding_dim=4, word2vec_epochs=1))
    assert data.meta["warnings"]["undecodable bytes replaced"] == 2


def test_clean_setting_reads_edin_et_al_split_file(tmp_path):
    mimic, _ = write_mimic(tmp_path)
    split_file = tmp_path / "mimiciii_clean_split.csv"
    split_file.write_text("_id,split\n100,train\n101,train\n103,train\n104,val\n105,test\n999,test\n")
    data = load_prepared(prepare_mimic3(tmp_path / "p", mimic, None, "clean", splits_file=split_file,
                                        min_code_count=1, embedding_dim=4, word2vec_epochs=1, min_doc_freq=1))
    assert [data.splits[s].ids for s in ("train", "dev", "test")] == [["100", "101", "103"], ["104"], ["105"]]
    assert "311" in data.codes and "E885.9" in data.codes  # every code of the split's admissions
    assert data.meta["warnings"]["split admissions without any code dropped"] == 1  # 999
    assert data.meta["settings"] == {"setting": "clean", "min_code_count": 1}
    # Every code here is seen once: with Edin et al.'s threshold of 10 nothing is left to train on.
    with pytest.raises(DataError, match="no usable document"):
        prepare_mimic3(tmp_path / "q", mimic, None, "clean", splits_file=split_file, embedding_dim=4)
    with pytest.raises(DataError, match="needs Edin et al.'s split file"):
        prepare_mimic3(tmp_path / "r", mimic, None, "clean")
