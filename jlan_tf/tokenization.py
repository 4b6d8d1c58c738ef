"""The one tokenizer of jlan_tf, and the vocabulary that maps its tokens to ids.

Contract (the serving signature mirrors it in-graph, so keep it this small):

1. lower-case the text with Python's ``str.lower``;
2. tokens are the maximal runs of Unicode letters and digits (``[^\\W_]+``: underscore
   and punctuation separate tokens, so ``"b/p 120/80"`` gives ``["b", "p"]``);
3. a run with no alphabetic character (``str.isalpha``, Unicode category L) is dropped
   (``"2019"``, ``"120"``, ``"½"``), as CAML drops numbers;
4. only the first ``max_tokens`` remaining tokens are kept (2,500 by default).

Ids: 0 is padding, 1 is ``UNK`` (a token seen in fewer than ``min_doc_freq`` training
documents), then the vocabulary in order of decreasing document frequency, ties broken
alphabetically, so the same training split always gives the same ids.
"""

from __future__ import annotations

import collections
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
DEFAULT_MAX_TOKENS = 2500

_RUN_RE = re.compile(r"[^\W_]+")  # a maximal run of Unicode letters and digits


def _has_letter(run: str) -> bool:
    return run.isalpha() or any(ch.isalpha() for ch in run)  # isalpha() is \p{L}, as in the serving graph


def tokenize(text: str, max_tokens: int | None = DEFAULT_MAX_TOKENS) -> list[str]:
    """Splits a note into lower-case word tokens under the contract above."""
    tokens = [run for run in _RUN_RE.findall(text.lower()) if _has_letter(run)]
    return tokens if max_tokens is None else tokens[:max_tokens]


def token_spans(text: str, max_tokens: int | None = DEFAULT_MAX_TOKENS) -> list[tuple[int, int]] | None:
    """(start, end) character offsets in ``text`` of each token of ``tokenize(text)``; None
    when lower-casing changed the text's length (a few rare characters), so offsets would lie."""
    lowered = text.lower()
    if len(lowered) != len(text):
        return None
    spans = [m.span() for m in _RUN_RE.finditer(lowered) if _has_letter(m.group())]
    return spans if max_tokens is None else spans[:max_tokens]


class Vocabulary:
    """Token <-> id mapping with padding at 0 and UNK at 1."""

    def __init__(self, tokens: Sequence[str]):
        if list(tokens[:2]) != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("the vocabulary holds a token twice")

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], min_doc_freq: int = 2) -> "Vocabulary":
        """Keeps the tokens found in at least ``min_doc_freq`` of the (training) documents."""
        doc_freq: collections.Counter = collections.Counter()
        for tokens in documents:
            doc_freq.update(set(tokens))
        return cls.from_doc_freq(doc_freq, min_doc_freq)

    @classmethod
    def from_doc_freq(cls, doc_freq: Mapping[str, int], min_doc_freq: int = 2) -> "Vocabulary":
        """The vocabulary of the contract above from each token's document frequency."""
        kept = [t for t, n in doc_freq.items() if n >= min_doc_freq and t not in (PAD, UNK)]
        kept.sort(key=lambda t: (-doc_freq[t], t))
        return cls([PAD, UNK, *kept])

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        get = self.index.get
        return np.fromiter((get(t, UNK_ID) for t in tokens), dtype=np.int32, count=len(tokens))

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(self.tokens) + "\n")

    @classmethod
    def load(cls, path) -> "Vocabulary":
        with open(path, encoding="utf-8") as f:
            return cls(f.read().splitlines())
