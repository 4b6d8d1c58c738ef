"""Synthetic corpora of a real corpus's shape, for measuring what a run costs at that scale
(``experiments/scale_check.py``): note counts per split, label count, codes per note with a
long tail, note lengths and vocabulary size as MIMIC-III or MIMIC-IV have them. The text is
meaningless but has the statistics that drive cost (Zipf word frequencies, a few words that
signal each code), so tokenization, word2vec, TF-IDF + LR, training and serving do the work
they would do on the real notes. Notes are written one at a time to the ``jsonl`` adapter's
files; no corpus is held in memory.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Shape:
    train: int
    dev: int
    test: int
    labels: int
    vocab: int
    codes_per_note: float = 15.9
    mean_words: int = 1500

    @property
    def notes(self) -> dict[str, int]:
        return {"train": self.train, "dev": self.dev, "test": self.test}


# MIMIC-III's CAML splits (Mullenbach et al. 2018) and MIMIC-IV ICD-10 as Edin et al. (2023)
# split it; the vocabulary of MIMIC-III at min count 3 (51,917); MIMIC-IV's is a guess of the
# same order (the notes are alike). Codes per note: MIMIC-III-50 5.7, full 15.9, MIMIC-IV ~16.
SHAPES = {
    "mimic3-50": Shape(8066, 1573, 1729, 50, 51917, codes_per_note=5.7),
    "mimic3-full": Shape(47719, 1631, 3372, 8921, 51917),
    "mimic4-icd10": Shape(110442, 4017, 7851, 7942, 70000, codes_per_note=16.1),
}

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _word(i: int) -> str:
    """A distinct alphabetic token per index (the tokenizer drops tokens without letters)."""
    out = []
    i += 26 * 26  # at least three letters
    while i:
        i, r = divmod(i, 26)
        out.append(_LETTERS[r])
    return "".join(out)


def write_shaped_corpus(out: str | Path, shape: Shape, seed: int = 0) -> dict[str, Path]:
    """Writes ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` and ``codes.tsv`` under ``out``
    (the ``jsonl`` adapter's layout); returns their paths by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    words = np.array([_word(i) for i in range(shape.vocab)], dtype=object)
    word_cdf = np.cumsum(1.0 / np.arange(1, shape.vocab + 1))                 # Zipf, exponent 1
    word_cdf /= word_cdf[-1]
    code_cdf = np.cumsum(1.0 / np.arange(1, shape.labels + 1) ** 1.1)       # a long tail of rare codes
    code_cdf /= code_cdf[-1]
    codes = [f"C{i:05d}" for i in range(shape.labels)]
    # Each code is signalled by three mid-frequency words, written a few times in its notes.
    signals = rng.integers(shape.vocab // 50, shape.vocab // 2, (shape.labels, 3))
    with open(out / "codes.tsv", "w", encoding="utf-8") as f:
        for code, signal in zip(codes, signals):
            f.write(f"{code}\t{' '.join(words[signal])} disorder\n")
    paths = {"codes": out / "codes.tsv"}
    for split, count in shape.notes.items():
        paths[split] = out / f"{split}.jsonl"
        with open(paths[split], "w", encoding="utf-8") as f:
            for n in range(count):
                f.write(json.dumps(_note(f"{split}{n}", rng, shape, words, word_cdf, code_cdf, codes, signals)) + "\n")
    return paths


def _note(note_id, rng, shape: Shape, words, word_cdf, code_cdf, codes, signals) -> dict:
    length = int(np.clip(rng.lognormal(np.log(shape.mean_words) - 0.08, 0.4), 50, 6 * shape.mean_words))
    wanted = min(shape.labels, max(1, rng.poisson(shape.codes_per_note)))
    draws = np.searchsorted(code_cdf, rng.random(4 * wanted + 8))
    _, first = np.unique(draws, return_index=True)
    labels = draws[np.sort(first)][:wanted]                                  # distinct, in the order drawn
    ids = np.searchsorted(word_cdf, rng.random(length))
    hints = np.repeat(signals[labels], 2, axis=0).ravel()                   # 6 signal words per code
    ids[rng.integers(0, length, len(hints))] = hints
    return {"id": note_id, "text": " ".join(words[ids]), "codes": [codes[i] for i in labels]}
