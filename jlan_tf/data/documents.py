"""What every stage of data handling shares, below all of them: a source's ``Document``, a
prepared ``Split`` read back as flat arrays, the ``DataError`` of bad input and the
``WarningCounter`` of recoverable problems. It imports nothing else of ``jlan_tf.data``."""

from __future__ import annotations

import collections
import dataclasses
from typing import Mapping, Sequence

import numpy as np
from scipy import sparse


class DataError(Exception):
    """Bad input: the message names the file (and line or field) and never quotes note text."""


@dataclasses.dataclass
class Document:
    id: str
    text: str
    codes: Sequence[str]
    clean_codes: Sequence[str] | None = None  # the noise-free labels, when the source knows them
    evidence: Mapping[str, Sequence[tuple[int, int]]] | None = None  # code -> coder's (start, end) character spans


@dataclasses.dataclass
class Split:
    """One split as read back from a prepared folder (ragged arrays as flat + offsets)."""

    ids: list[str]
    tokens: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    label_offsets: np.ndarray
    clean_labels: np.ndarray | None = None
    clean_label_offsets: np.ndarray | None = None
    evidence: np.ndarray | None = None  # (n, 3) int32: document, label, token position
    gold_codes: list[list[str]] | None = None  # every document's codes as the source gave them, label set or not

    def gold_by_id(self) -> dict[str, list[str]]:
        """Document id -> all its codes (``gold_codes`` must be set): what the CodiEsp task scores against."""
        return dict(zip(self.ids, self.gold_codes))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def evidence_by_pair(self) -> dict[tuple[int, int], np.ndarray]:
        """(document, label) -> the token positions of the coder's span (``evidence`` must be set)."""
        keys, starts = np.unique(self.evidence[:, :2], axis=0, return_index=True)
        ends = list(starts[1:]) + [len(self.evidence)]
        return {(int(d), int(l)): self.evidence[s:e, 2] for (d, l), s, e in zip(keys, starts, ends)}

    def word_counts(self, vocab_size: int) -> sparse.csr_matrix:
        """(documents, vocab_size) sparse matrix: how often each token id occurs in each document."""
        rows = np.repeat(np.arange(len(self)), self.lengths)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, self.tokens)), shape=(len(self), vocab_size))

    def multi_hot(self, num_labels: int, clean: bool = False) -> np.ndarray:
        """(documents, labels) float32 0/1 matrix."""
        flat, offsets = (
            (self.clean_labels, self.clean_label_offsets) if clean else (self.labels, self.label_offsets)
        )
        out = np.zeros((len(self), num_labels), np.float32)
        rows = np.repeat(np.arange(len(self)), np.diff(offsets))
        out[rows, flat] = 1.0
        return out


class WarningCounter(collections.Counter):
    """Counts recoverable problems; they are logged once and recorded in ``meta.json``."""

    def summary(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.items())) or "none"
