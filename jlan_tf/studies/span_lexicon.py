"""The span lexicon: what the coders' evidence spans give without any model (the control for
``train.evidence_weight``). Every contiguous run of gold span tokens of a training (note,
code) pair is a phrase of that code. A phrase's precision for its code is
``(k + 0.5) / (n + 1)``: of the ``n`` training notes that contain it, ``k`` carry the code. A
note scores a code with the best precision among the code's phrases it contains (0 if none).
"""

from __future__ import annotations

import collections

import numpy as np

from jlan_tf.data.prepared import DataError, PreparedDataset

MAX_PHRASE = 10  # tokens; longer runs are cut to their first MAX_PHRASE tokens


def _ngrams(words: np.ndarray) -> set[tuple[int, ...]]:
    words = words.tolist()
    return {tuple(words[i:i + n]) for n in range(1, MAX_PHRASE + 1) for i in range(len(words) - n + 1)}


def _phrases(data: PreparedDataset) -> dict[int, set[tuple[int, ...]]]:
    """Per code, the token-id phrases of its training spans."""
    part = data.splits["train"]
    if part.evidence is None:
        raise DataError(f"{data.path}: the training split has no gold evidence spans (CodiEsp prepared with --lang es)")
    phrases = collections.defaultdict(set)
    for (d, label), positions in part.evidence_by_pair().items():
        words = part.tokens[part.offsets[d]:part.offsets[d + 1]]
        positions = np.sort(positions)
        for run in np.split(positions, np.flatnonzero(np.diff(positions) > 1) + 1):
            phrases[label].add(tuple(words[run[:MAX_PHRASE]].tolist()))
    return phrases


class SpanLexicon:
    """Phrases per code with their training precision; ``scores(split)`` is (notes, codes)."""

    def __init__(self, data: PreparedDataset):
        self.data = data
        part = data.splits["train"]
        labels = part.multi_hot(data.num_labels)
        notes = [_ngrams(part.tokens[part.offsets[d]:part.offsets[d + 1]]) for d in range(len(part))]
        self.by_code: dict[int, dict[tuple[int, ...], float]] = collections.defaultdict(dict)  # code -> phrase -> precision
        for label, phrases in _phrases(data).items():
            for phrase in phrases:
                having = [d for d, grams in enumerate(notes) if phrase in grams]
                k = labels[having, label].sum() if having else 0.0
                self.by_code[label][phrase] = (k + 0.5) / (len(having) + 1)

    def scores(self, split: str) -> np.ndarray:
        codes_of = collections.defaultdict(list)  # phrase -> [(code, precision)]
        for label, phrases in self.by_code.items():
            for phrase, p in phrases.items():
                codes_of[phrase].append((label, p))
        part = self.data.splits[split]
        out = np.zeros((len(part), self.data.num_labels))
        for d in range(len(part)):
            for phrase in _ngrams(part.tokens[part.offsets[d]:part.offsets[d + 1]]) & codes_of.keys():
                for label, p in codes_of[phrase]:
                    out[d, label] = max(out[d, label], p)
        return out

    def evidence(self, words: np.ndarray, label: int) -> np.ndarray:
        """Per token of a note, the best precision of the code's phrases that cover it (0 elsewhere):
        the lexicon's evidence for the code."""
        words = words.tolist()
        out = np.zeros(len(words))
        for phrase, p in self.by_code.get(label, {}).items():
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if tuple(words[i:i + n]) == phrase:
                    out[i:i + n] = np.maximum(out[i:i + n], p)
        return out
