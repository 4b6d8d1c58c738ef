"""A model's scores as the CodiEsp task (CLEF eHealth 2020) reads them: the prediction file
and the official MAP (``metrics.codiesp_map``).

The prediction file is the task's: one ``note<TAB>code`` line per predicted code, each note's
codes ranked best first, at most 1,000 a note, no header. Every note of the split is written
(the task averages over the notes of the file, so a note left out would be left out of the
mean). Gold files have the same layout (the release's ``devD.tsv``), so ``read_codes_file``
reads both.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from jlan_tf.metrics import CODIESP_CUT, codiesp_map, ranked_codes


def write_prediction_file(path: str | os.PathLike, ids: list[str], scores: np.ndarray, codes: list[str],
                          cut: int = CODIESP_CUT) -> Path:
    """Writes ``path`` (whole or not at all) from (documents x labels) scores; returns it."""
    path = Path(path)
    if scores.shape != (len(ids), len(codes)):
        raise ValueError(f"scores have shape {scores.shape}, expected ({len(ids)} notes, {len(codes)} codes)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for note, ranked in zip(ids, ranked_codes(scores, codes, cut)):
                f.writelines(f"{note}\t{code}\n" for code in ranked)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_codes_file(path: str | os.PathLike) -> dict[str, list[str]]:
    """``note<TAB>code`` lines (a gold file or a prediction file) -> note -> codes in file order."""
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2 or not fields[0] or not fields[1].strip():
                raise ValueError(f"{path}:{line_no}: expected 'note<TAB>code'")
            out.setdefault(fields[0], []).append(fields[1].strip())
    return out


def official_map(gold: dict[str, list[str]] | None, ids: list[str], scores: np.ndarray, codes: list[str]) -> float | None:
    """The task's MAP of these scores against ``gold`` (note -> all its codes); None without gold."""
    if gold is None:
        return None
    return codiesp_map(gold, dict(zip(ids, ranked_codes(scores, codes))))


def add_official_map(block: dict, data, split: str, scores: np.ndarray) -> dict:
    """Adds ``codiesp_map`` to a split's metrics when the data are CodiEsp's and the prepared
    folder keeps every note's gold codes (``S.codes.tsv``); returns ``block``."""
    part = data.splits[split]
    if data.meta.get("source") == "codiesp" and part.gold_codes is not None:
        block["codiesp_map"] = official_map(part.gold_by_id(), part.ids, scores, list(data.codes))
    return block
