"""MIMIC-IV adapter (v2.x with MIMIC-IV-Note), processed as Edin et al. (SIGIR 2023) do.

Reads ``MIMIC_DIR/hosp/diagnoses_icd.csv``, ``MIMIC_DIR/hosp/procedures_icd.csv`` and
``NOTE_DIR/note/discharge.csv`` (each plain or ``.gz``; the two folders may be the same).

- ``icd_version`` 9 or 10 keeps the codes of that version (an admission coded in the other
  version has none and is dropped); diagnoses and procedures both. Codes are dotted: ICD-9 as
  CAML does (diagnoses after 3 characters, E codes 4, procedures 2), ICD-10-CM diagnoses after
  3 characters, ICD-10-PCS procedures kept as their 7 characters.
- Codes seen in fewer than ``min_code_count`` (10) admissions are removed, then the
  admissions left without a code (Edin et al.'s processing).
- The document is the admission's discharge note(s), joined in ``note_seq`` order.
- Splits: a ``--splits-file`` (CSV with columns ``_id`` or ``hadm_id`` and ``split`` =
  train | val | dev | test; Edin et al.'s ``.feather`` files are read through pandas when
  pyarrow is installed), else a seeded patient-level split: 80 / 10 / 10 % of the
  ``subject_id`` values by a CRC32 hash, so one patient is never in two splits.
- The discharge notes (several GB) are streamed; only those of coded admissions are kept.
"""

from __future__ import annotations

import collections
import logging
import zlib
from pathlib import Path

from jlan_tf.data.descriptions import dot_icd9, icd9_descriptions, icd10cm_description, icd10pcs_description
from jlan_tf.data.mimic3 import frequent_codes_only
from jlan_tf.data.prepared import SPLITS, DataError, Document, WarningCounter
from jlan_tf.data.readers import csv_rows, find_file, read_splits_file

log = logging.getLogger(__name__)


def dot_icd10(code: str, is_diagnosis: bool) -> str:
    """ICD-10-CM diagnoses get a dot after 3 characters; ICD-10-PCS procedures have none."""
    code = code.strip().replace(".", "").upper()
    return code[:3] + "." + code[3:] if is_diagnosis and len(code) > 3 else code


def _read_codes(mimic_dir: Path, version: str, warnings: WarningCounter) -> tuple[dict, dict]:
    """(hadm_id -> codes of that version, hadm_id -> subject_id)."""
    codes: dict[str, list[str]] = collections.defaultdict(list)
    subjects: dict[str, str] = {}
    dot = dot_icd9 if version == "9" else dot_icd10
    for stem, is_diagnosis in (("diagnoses_icd.csv", True), ("procedures_icd.csv", False)):
        path = find_file(mimic_dir / "hosp", stem)
        for line, row in csv_rows(path, ["SUBJECT_ID", "HADM_ID", "ICD_CODE", "ICD_VERSION"], warnings):
            if row["ICD_VERSION"].strip() not in ("9", "10"):
                raise DataError(f"{path}:{line}: icd_version must be 9 or 10")
            if row["ICD_VERSION"].strip() != version or not row["ICD_CODE"].strip():
                continue
            code = dot(row["ICD_CODE"], is_diagnosis)
            hadm = row["HADM_ID"].strip()
            subjects[hadm] = row["SUBJECT_ID"].strip()
            if code not in codes[hadm]:
                codes[hadm].append(code)
    return codes, subjects


def _read_discharge_notes(path: Path, wanted: set[str], warnings: WarningCounter) -> dict[str, str]:
    notes: dict[str, list] = collections.defaultdict(list)
    for n, (line, row) in enumerate(csv_rows(path, ["HADM_ID", "NOTE_SEQ", "TEXT"], warnings), 1):
        if n % 100_000 == 0:
            log.info("discharge: %d notes read", n)
        hadm = row["HADM_ID"].strip()
        if hadm in wanted:
            seq = int(row["NOTE_SEQ"]) if row["NOTE_SEQ"].strip().isdigit() else line
            notes[hadm].append((seq, line, row["TEXT"]))
    return {hadm: "\n".join(text for *_, text in sorted(parts)) for hadm, parts in notes.items()}


def patient_split(subject_id: str) -> str:
    bucket = zlib.crc32(subject_id.encode()) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def read_mimic4(mimic_dir: str | Path, note_dir: str | Path, icd_version: str = "10", splits_file=None,
                min_code_count: int = 10, warnings: WarningCounter | None = None):
    """Returns (splits, descriptions, labels, settings) for ``write_prepared``."""
    mimic_dir, note_dir = Path(mimic_dir), Path(note_dir)
    warnings = warnings if warnings is not None else WarningCounter()
    icd_version = str(icd_version)
    if icd_version not in ("9", "10"):
        raise DataError(f"icd_version must be 9 or 10, got {icd_version!r}")
    codes, subjects = _read_codes(mimic_dir, icd_version, warnings)
    codes = frequent_codes_only(codes, min_code_count, warnings)
    kept = {c for cs in codes.values() for c in cs}
    texts = _read_discharge_notes(find_file(note_dir / "note", "discharge.csv"), set(codes), warnings)
    assigned = read_splits_file(Path(splits_file), warnings) if splits_file else None

    split_docs: dict[str, list[Document]] = {name: [] for name in SPLITS}
    for hadm in sorted(codes, key=int if all(h.isdigit() for h in codes) else str):
        if hadm not in texts:
            warnings["coded admissions without a discharge note"] += 1
            continue
        name = assigned.get(hadm) if assigned is not None else patient_split(subjects[hadm])
        if name is None:
            warnings["admissions not in the splits file"] += 1
            continue
        split_docs[name].append(Document(hadm, texts[hadm], codes[hadm]))
    if not split_docs["train"]:
        raise DataError(f"{mimic_dir}: no coded admission with a discharge note for the training split")

    if icd_version == "9":
        table = icd9_descriptions()
        descriptions = {c: table[c] for c in kept if c in table}
    else:
        describe = lambda c: icd10cm_description(c) if "." in c or len(c) <= 3 else icd10pcs_description(c)
        descriptions = {c: d for c in kept if (d := describe(c))}
    settings = {"icd_version": icd_version, "min_code_count": min_code_count,
                "split": "splits file " + Path(splits_file).name if splits_file else "patient-level crc32 80/10/10"}
    # Every code of the three splits' notes, as Edin et al.'s label sets are (it reads test's codes).
    labels = sorted({c for docs in split_docs.values() for d in docs for c in d.codes})
    return split_docs, descriptions, labels, settings
