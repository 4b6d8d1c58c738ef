"""Bring-your-own adapter: one JSON object per line, ``{"id", "text", "codes": [...]}``,
one file per split, and an optional ``codes.tsv`` (``code<TAB>description``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from jlan_tf.data.prepared import DataError, Document, WarningCounter
from jlan_tf.data.readers import open_text


def read_jsonl(path: str | Path, warnings: WarningCounter | None = None) -> Iterator[Document]:
    path = Path(path)
    with open_text(path, warnings) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{line_no}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{line_no}: expected a JSON object")
            for field, kind in (("id", (str, int)), ("text", str), ("codes", list)):
                if not isinstance(record.get(field), kind):
                    raise DataError(f"{path}:{line_no}: field {field!r} is missing or not a {kind}")
            if not all(isinstance(c, str) for c in record["codes"]):
                raise DataError(f"{path}:{line_no}: field 'codes' must be a list of strings")
            yield Document(str(record["id"]), record["text"], [c.strip() for c in record["codes"] if c.strip()])


def read_code_table(path: str | Path, warnings: WarningCounter | None = None) -> dict[str, str]:
    path = Path(path)
    table = {}
    with open_text(path, warnings) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            code, sep, desc = line.rstrip("\n").partition("\t")
            if not sep:
                raise DataError(f"{path}:{line_no}: expected code<TAB>description")
            table[code.strip()] = desc.strip()
    return table
