"""Coders' evidence spans (character offsets into a note) as token positions, for the
prepared folder's ``S.evidence.npy`` rows ``(document, label, token position)``."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jlan_tf.data.documents import Document, WarningCounter
from jlan_tf.tokenization import token_spans


def evidence_positions(doc: Document, max_tokens: int, warnings: WarningCounter) -> dict[str, list[int]] | None:
    """code -> the positions of the kept tokens that overlap the coder's character spans."""
    if doc.evidence is None:
        return None
    spans = token_spans(doc.text, max_tokens=max_tokens)
    if spans is None:
        warnings["notes whose evidence spans cannot be mapped to tokens"] += 1
        return None
    starts, ends = np.array([s for s, _ in spans], np.int64), np.array([e for _, e in spans], np.int64)
    positions = {}
    for code, char_spans in doc.evidence.items():
        hit = np.zeros(len(spans), bool)
        for start, end in char_spans:
            hit |= (starts < end) & (ends > start)
        if hit.any():
            positions[code] = np.flatnonzero(hit).tolist()
        else:
            warnings["evidence spans without a kept token (cut notes, numbers only)"] += 1
    return positions


def evidence_array(per_doc: Sequence[dict | None], label_index: Mapping[str, int]) -> np.ndarray:
    rows = [(d, label_index[code], p) for d, evidence in enumerate(per_doc) for code, positions in (evidence or {}).items()
            if code in label_index for p in positions]
    return np.array(sorted(rows), np.int32).reshape(-1, 3)
