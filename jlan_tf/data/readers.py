"""Opening source files: plain or .gz, UTF-8, with undecodable bytes counted, not fatal."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
from pathlib import Path
from typing import Iterator

from jlan_tf.data.prepared import DataError, WarningCounter

_active_counter: list[WarningCounter] = [WarningCounter()]  # one preparation at a time


def _count_and_replace(error: UnicodeDecodeError):
    _active_counter[0]["undecodable bytes replaced"] += error.end - error.start
    return "\ufffd", error.end


codecs.register_error("jlan_count_replace", _count_and_replace)
csv.field_size_limit(sys.maxsize)  # discharge summaries are long


def open_text(path: str | Path, warnings: WarningCounter | None = None) -> io.TextIOBase:
    """A text stream over ``path`` (gzip when it ends in .gz). Bytes that are not UTF-8 are
    replaced by U+FFFD and counted in ``warnings``; a missing file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if warnings is not None:
        _active_counter[0] = warnings
    try:
        raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    return io.TextIOWrapper(raw, encoding="utf-8", errors="jlan_count_replace", newline="")


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
