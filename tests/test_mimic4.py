"""MIMIC-IV adapter on tiny hand-written files in MIMIC-IV's layout (no real MIMIC data)."""

import csv
import gzip

import pytest

from jlan_tf.data import DataError, load_prepared
from jlan_tf.data.mimic4 import dot_icd10, patient_split
from jlan_tf.data.sources import prepare_mimic4

SECRET = "Zebrafish-Quixote"  # a word of a note: it must never appear in a message

# hadm -> (subject, [(code, version, is_diagnosis)]); min_code_count=2 in the tests
ADMISSIONS = {
    "200": ("1", [("I5023", "10", True), ("I10", "10", True), ("02HV33Z", "10", False)]),
    "201": ("1", [("I5023", "10", True), ("I10", "10", True), ("Z7901", "10", True)]),
    "202": ("2", [("I10", "10", True), ("02HV33Z", "10", False)]),
    "203": ("3", [("4280", "9", True), ("3615", "9", False)]),            # ICD-9 admission
    "204": ("4", [("Z7901", "10", True)]),                                 # only a code seen twice
    "205": ("5", [("R0602", "10", True)]),                                 # only a rare code: dropped
    "206": ("6", [("I5023", "10", True)]),                                 # no discharge note
}
NOTES = {"200": [(2, "second part"), (1, f"Heart failure, {SECRET}, hypertension")], "201": [(1, "CHF again")],
         "202": [(1, "hypertension and a line")], "203": [(1, "icd9 era note")], "204": [(1, "on warfarin")],
         "205": [(1, "short of breath")]}


def write_mimic4(root, gz=False, diagnoses_extra=(), notes=NOTES):
    hosp, note = root / "hosp", root / "note"
    hosp.mkdir(parents=True)
    note.mkdir()

    def write(path, header, rows):
        path = path.with_name(path.name + (".gz" if gz else ""))
        with (gzip.open(path, "wt", newline="") if gz else open(path, "w", newline="")) as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    diag = [(s, h, i, c, v) for h, (s, codes) in ADMISSIONS.items() for i, (c, v, d) in enumerate(codes) if d]
    proc = [(s, h, i, "2150-01-01", c, v) for h, (s, codes) in ADMISSIONS.items() for i, (c, v, d) in enumerate(codes)
            if not d]
    write(hosp / "diagnoses_icd.csv", ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"],
          diag + list(diagnoses_extra))
    write(hosp / "procedures_icd.csv", ["subject_id", "hadm_id", "seq_num", "chartdate", "icd_code", "icd_version"], proc)
    rows = [(f"{h}-DS-{seq}", ADMISSIONS[h][0], h, "DS", seq, "2150-01-01", "2150-01-01", text)
            for h, parts in notes.items() for seq, text in parts]
    write(note / "discharge.csv", ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime",
                                   "storetime", "text"], rows)
    return root


def _prepare(tmp_path, root, min_code_count=2, **kwargs):
    return load_prepared(prepare_mimic4(tmp_path / "p", root, root, min_code_count=min_code_count, embedding_dim=4,
                                        word2vec_epochs=1, **kwargs))


def test_codes_dotted_and_filtered_as_edin_et_al(tmp_path):
    root = write_mimic4(tmp_path / "m", gz=True)
    (root / "splits.csv").write_text("_id,split\n200,train\n201,train\n202,val\n204,test\n")
    data = _prepare(tmp_path, root, splits_file=root / "splits.csv")
    # R06.02 (once) is removed and 205 with it; I50.23 stays (twice), 02HV33Z (PCS) undotted.
    assert data.codes == ["02HV33Z", "I10", "I50.23", "Z79.01"]
    assert [data.splits[s].ids for s in ("train", "dev", "test")] == [["200", "201"], ["202"], ["204"]]
    assert data.descriptions[1] == "Essential (primary) hypertension"
    assert data.descriptions[0] != "02HV33Z"  # a PCS description was found
    warnings = data.meta["warnings"]
    assert warnings["codes seen in fewer than 2 admissions removed"] == 1
    assert warnings["admissions left without a code dropped"] == 1
    assert warnings["coded admissions without a discharge note"] == 1
    assert data.meta["source"] == "mimic4_icd10"


def test_icd9_and_the_patient_level_split(tmp_path):
    root = write_mimic4(tmp_path / "m")
    (root / "splits.csv").write_text("hadm_id,split\n203,train\n")
    data = _prepare(tmp_path, root, min_code_count=1, icd_version="9", splits_file=root / "splits.csv")
    assert data.codes == ["36.15", "428.0"] and data.splits["train"].ids == ["203"]
    # The split is a function of the patient: the two admissions of subject 1 always go together.
    data10 = load_prepared(prepare_mimic4(tmp_path / "p10", root, root, min_code_count=2, embedding_dim=4,
                                          word2vec_epochs=1))
    where = {h: s for s, part in data10.splits.items() for h in part.ids}
    assert where["200"] == where["201"] == patient_split("1")


def test_dot_icd10():
    assert dot_icd10("I5023", True) == "I50.23" and dot_icd10("I10", True) == "I10"
    assert dot_icd10("02HV33Z", False) == "02HV33Z" and dot_icd10("i50.23", True) == "I50.23"


@pytest.mark.parametrize("extra, message", [
    ([("1", "200", "9", "I10", "11")], r"diagnoses_icd.csv:\d+: icd_version must be 9 or 10"),
    ([("1", "200", "9", "I10")], r"diagnoses_icd.csv:\d+: expected 5 fields, found 4"),
])
def test_bad_rows_name_file_and_line(tmp_path, extra, message):
    root = write_mimic4(tmp_path / "m", diagnoses_extra=extra)
    with pytest.raises(DataError, match=message):
        _prepare(tmp_path, root)
    assert not (tmp_path / "p").exists()


def test_bad_splits_file_and_missing_files(tmp_path, caplog):
    root = write_mimic4(tmp_path / "m")
    (root / "splits.csv").write_text("_id,split\n200,training\n")
    with pytest.raises(DataError, match=r"splits.csv:2: split must be train, val, dev or test"):
        _prepare(tmp_path, root, splits_file=root / "splits.csv")
    (root / "note" / "discharge.csv").unlink()
    with pytest.raises(DataError, match=r"discharge.csv: file not found") as error:
        _prepare(tmp_path, root)
    assert SECRET not in str(error.value) and SECRET not in caplog.text


def test_mimic4_dataset_name_without_data_says_what_to_run(tmp_path, monkeypatch):
    from jlan_tf.config import DataConfig
    from jlan_tf.data.catalog import resolve

    monkeypatch.setenv("JLAN_DATA", str(tmp_path))
    with pytest.raises(DataError, match="jlan-prepare mimic4 .* --icd-version 9"):
        resolve("mimic4_icd9", DataConfig())
