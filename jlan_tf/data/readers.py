"""Opening source files: plain or .gz, UTF-8, with undecodable bytes counted, not fatal."""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path
from typing import Iterator

from jlan_tf.data.prepared import DataError, WarningCounter

UNDECODABLE = "undecodable bytes replaced"
csv.field_size_limit(sys.maxsize)  # discharge summaries are long


class _CountingText(io.TextIOWrapper):
    """UTF-8 text whose undecodable bytes became U+FFFD; counts them into ``warnings``."""

    def __init__(self, raw, warnings: WarningCounter | None):
        super().__init__(raw, encoding="utf-8", errors="replace", newline="")
        self.warnings = warnings

    def _count(self, text: str) -> str:
        if self.warnings is not None and "\ufffd" in text:
            self.warnings[UNDECODABLE] += text.count("\ufffd")
        return text

    def read(self, size=-1):
        return self._count(super().read(size))

    def readline(self, size=-1):  # iterating a subclass of TextIOWrapper calls readline
        return self._count(super().readline(size))


def open_text(path: str | Path, warnings: WarningCounter | None = None) -> io.TextIOBase:
    """A text stream over ``path`` (gzip when it ends in .gz). Bytes that are not UTF-8 are
    replaced by U+FFFD and counted in ``warnings`` (a U+FFFD already in the file counts too);
    a missing file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    return _CountingText(raw, warnings)


def find_file(folder: Path, stem: str) -> Path:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder / stem}: file not found (nor {stem}.gz)")


def csv_rows(path: Path, required: list[str], warnings: WarningCounter) -> Iterator[tuple[int, dict]]:
    """(line number, {column: value}) for each CSV row, keeping only ``required`` columns."""
    with open_text(path, warnings) as f:
        reader = csv.reader(f, strict=True)
        try:
            header = [h.strip().upper() for h in next(reader)]
        except StopIteration:
            raise DataError(f"{path}: empty file (expected a header row)") from None
        except csv.Error as e:
            raise DataError(f"{path}:1: malformed CSV header ({e})") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}")
        index = [header.index(c) for c in required]
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataError(f"{path}:{line}: malformed CSV record ({e})") from None
            if len(row) != len(header):
                raise DataError(f"{path}:{line}: expected {len(header)} fields, found {len(row)}")
            yield line, {c: row[i] for c, i in zip(required, index)}


SPLIT_NAMES = {"train": "train", "val": "dev", "dev": "dev", "test": "test"}


def read_splits_file(path: Path, warnings: WarningCounter) -> dict[str, str]:
    """hadm_id -> train | dev | test, from a CSV (or Edin et al.'s feather) splits file."""
    if path.suffix == ".feather":
        try:
            import pandas as pd

            frame = pd.read_feather(path)
        except ImportError:
            raise DataError(f"{path}: reading .feather needs pandas and pyarrow (pip install pyarrow), "
                            f"or save it as CSV with columns _id,split") from None
        id_column = "_id" if "_id" in frame.columns else "hadm_id"
        if id_column not in frame.columns or "split" not in frame.columns:
            raise DataError(f"{path}: expected columns _id (or hadm_id) and split")
        rows = [(i + 1, {"ID": str(hadm), "SPLIT": str(split)})
                for i, (hadm, split) in enumerate(zip(frame[id_column], frame["split"]))]
    else:
        with open_text(path) as f:  # which id column: _id (Edin et al.) or hadm_id
            header = f.readline().strip().lower().split(",")
        id_column = "_ID" if "_id" in header else "HADM_ID"
        rows = [(line, {"ID": r[id_column], "SPLIT": r["SPLIT"]})
                for line, r in csv_rows(path, [id_column, "SPLIT"], warnings)]
    splits = {}
    for line, row in rows:
        name = SPLIT_NAMES.get(row["SPLIT"].strip().lower())
        if name is None:
            raise DataError(f"{path}:{line}: split must be train, val, dev or test")
        splits[row["ID"].strip().split(".")[0]] = name
    return splits
