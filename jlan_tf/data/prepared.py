"""The prepared dataset: the one format every adapter writes and everything after reads.

A prepared folder holds (all plain files, so preparing twice gives identical bytes):

- ``meta.json``: source, settings, counts, warnings and the SHA-256 of every other file;
- ``labels.tsv``: ``code<TAB>description<TAB>train_count``, one label a row, in label order;
- ``vocab.txt``: one token a line, the line number being the id (0 padding, 1 UNK);
- ``embeddings.npy``: float32 (vocab, dim) word2vec CBOW vectors trained on the training
  split only (row 0, padding, is zero);
- per split ``S`` in train/dev/test: ``S.ids.txt`` (document ids), ``S.tokens.npy``
  (int32 token ids of all documents, concatenated) with ``S.offsets.npy`` (int64, one more
  than documents), ``S.labels.npy`` (int32 label indices, concatenated) with
  ``S.label_offsets.npy``; and, for sources that know which labels are noise (the
  synthetic corpus), ``S.clean_labels.npy`` with ``S.clean_label_offsets.npy``; for sources
  that give the coders' evidence spans (CodiEsp's ``X`` files, Spanish text),
  ``S.evidence.npy``: int32 rows ``(document, label, token position)``, one per token of a
  gold evidence span (a token is in a span when their characters overlap).

No note text is stored: only token ids. The folder is written under a temporary name and
renamed into place, so a failed preparation never leaves a half-written ``--out``.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from jlan_tf.tokenization import DEFAULT_MAX_TOKENS, PAD, UNK, Vocabulary, token_spans, tokenize

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
SPLIT_ARRAYS = ("tokens", "offsets", "labels", "label_offsets", "clean_labels", "clean_label_offsets", "evidence")
FORMAT_VERSION = 1


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

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def multi_hot(self, num_labels: int, clean: bool = False) -> np.ndarray:
        """(documents, labels) float32 0/1 matrix."""
        flat, offsets = (
            (self.clean_labels, self.clean_label_offsets) if clean else (self.labels, self.label_offsets)
        )
        out = np.zeros((len(self), num_labels), np.float32)
        rows = np.repeat(np.arange(len(self)), np.diff(offsets))
        out[rows, flat] = 1.0
        return out


@dataclasses.dataclass
class PreparedDataset:
    path: Path
    meta: dict
    codes: list[str]
    descriptions: list[str]
    train_counts: np.ndarray
    vocab: Vocabulary
    embeddings: np.ndarray
    splits: dict[str, Split]

    @property
    def num_labels(self) -> int:
        return len(self.codes)

    @property
    def has_clean_labels(self) -> bool:
        return self.splits["train"].clean_labels is not None


class WarningCounter(collections.Counter):
    """Counts recoverable problems; they are logged once and recorded in ``meta.json``."""

    def summary(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.items())) or "none"


def _stable_hash(text: str) -> int:
    # gensim seeds each word vector with hash(word); Python's hash changes per process.
    return zlib.crc32(text.encode("utf-8"))


# Summed over epochs, how often the average vocabulary word is seen by word2vec. Measured on
# CodiEsp-50 (116k training tokens, 5k words): after gensim's default 5 epochs (~23 sightings
# per word) every vector still points the same way (nearest-neighbour cosine 0.998) and JLAN
# does not learn; 13 epochs learn slowly, 50 epochs well (README, Results).
WORD2VEC_SIGHTINGS = 1000


def word2vec_epochs_for(train_tokens: int, vocab_size: int) -> int:
    """gensim's 5 epochs on a large corpus (MIMIC-III, the synthetic corpus); more on a small
    one, until the average word has been seen ``WORD2VEC_SIGHTINGS`` times; at most 50."""
    return int(min(50, max(5, math.ceil(WORD2VEC_SIGHTINGS * vocab_size / max(train_tokens, 1)))))


def train_word2vec(vocab: Vocabulary, split: Split, dim: int, epochs: int, seed: int):
    """gensim CBOW vectors over a split's documents; one worker keeps them identical from run
    to run."""
    from gensim.models import Word2Vec

    return Word2Vec(
        sentences=_TokenSentences(vocab, split.tokens, split.offsets), vector_size=dim, window=5, min_count=0, sg=0,
        workers=1, epochs=epochs, seed=seed, hashfxn=_stable_hash, sorted_vocab=True,
    )


class _TokenSentences:
    """Restartable iterable of a split's documents as token lists, for gensim."""

    def __init__(self, vocab: Vocabulary, tokens: np.ndarray, offsets: np.ndarray):
        self.vocab, self.tokens, self.offsets = vocab, tokens, offsets

    def __iter__(self):
        words = self.vocab.tokens
        for start, end in zip(self.offsets[:-1], self.offsets[1:]):
            yield [words[i] for i in self.tokens[start:end]]


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _label_arrays(code_lists: Sequence[Sequence[str]], label_index: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-document codes -> (flat int32 label indices, offsets); codes outside the label set are dropped."""
    lists = [sorted({label_index[c] for c in codes if c in label_index}) for codes in code_lists]
    return np.array([i for ls in lists for i in ls], np.int32), _offsets([len(ls) for ls in lists])


def write_prepared(
    out: str | os.PathLike,
    *,
    source: str,
    settings: Mapping,
    splits: Mapping[str, Iterable[Document]],
    descriptions: Mapping[str, str],
    labels: Sequence[str] | None = None,
    warnings: WarningCounter | None = None,
    min_doc_freq: int = 2,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    embedding_dim: int = 100,
    word2vec_epochs: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Tokenizes, encodes and writes the three splits as a prepared folder at ``out``.

    ``labels`` fixes the label set (codes outside it are dropped); by default it is every
    code seen in any split. ``word2vec_epochs=None`` picks them from the corpus size
    (``word2vec_epochs_for``). Returns the folder's path.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    warnings = warnings if warnings is not None else WarningCounter()
    if set(splits) != set(SPLITS):
        raise ValueError(f"splits must be exactly {SPLITS}, got {sorted(splits)}")

    # Pass 1: tokenize every document once into provisional ids (first-seen order).
    provisional: dict[str, int] = {}
    encoded: dict[str, dict] = {}
    seen_ids: set[str] = set()
    setdefault = provisional.setdefault
    for name in SPLITS:
        part = encoded[name] = {"ids": [], "tokens": [], "codes": [], "clean": [], "evidence": []}
        for n, doc in enumerate(splits[name], 1):
            if doc.id in seen_ids:
                raise DataError(f"{source}: document id {doc.id!r} appears twice")
            seen_ids.add(doc.id)
            tokens = tokenize(doc.text, max_tokens=None)
            if not tokens:
                warnings["empty notes skipped"] += 1
                continue
            if len(tokens) > max_tokens:
                warnings[f"notes truncated to {max_tokens} tokens"] += 1
                tokens = tokens[:max_tokens]
            if not doc.codes:
                warnings["documents without codes"] += 1
            part["tokens"].append(np.fromiter((setdefault(t, len(provisional)) for t in tokens), np.int32, len(tokens)))
            part["ids"].append(doc.id)
            part["codes"].append(doc.codes)
            part["clean"].append(doc.clean_codes)
            part["evidence"].append(_evidence_positions(doc, max_tokens, warnings))
            if n % 10000 == 0:
                log.info("%s: tokenized %d documents", name, n)
        log.info("%s: %d documents", name, len(part["ids"]))
    if not encoded["train"]["ids"]:
        raise DataError(f"{source}: the training split has no usable document")

    # Label set and vocabulary come from the data (vocabulary: training split only).
    if labels is None:
        labels = sorted({c for name in SPLITS for codes in encoded[name]["codes"] for c in codes})
    labels = list(labels)
    label_index = {code: i for i, code in enumerate(labels)}
    doc_freq = np.zeros(len(provisional), np.int64)
    for ids in encoded["train"]["tokens"]:
        doc_freq[np.unique(ids)] += 1
    words = np.array(list(provisional), dtype=object)
    keep = np.flatnonzero(doc_freq >= min_doc_freq)
    keep = keep[[words[i] not in (PAD, UNK) for i in keep]]
    order = sorted(keep, key=lambda i: (-doc_freq[i], words[i]))
    vocab = Vocabulary([PAD, UNK, *words[order]])
    remap = np.ones(len(provisional), np.int32)  # UNK unless kept
    remap[order] = np.arange(2, len(vocab), dtype=np.int32)

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None))
    try:
        arrays: dict[str, Split] = {}
        for name in SPLITS:
            part = encoded[name]
            token_arrays = [remap[t] for t in part["tokens"]]
            labels_flat, label_offsets = _label_arrays(part["codes"], label_index)
            split = Split(
                ids=part["ids"],
                tokens=np.concatenate(token_arrays or [np.zeros(0, np.int32)]).astype(np.int32),
                offsets=_offsets([len(t) for t in token_arrays]),
                labels=labels_flat,
                label_offsets=label_offsets,
            )
            if part["clean"] and all(c is not None for c in part["clean"]):
                split.clean_labels, split.clean_label_offsets = _label_arrays(part["clean"], label_index)
            if any(e is not None for e in part["evidence"]):
                split.evidence = _evidence_array(part["evidence"], label_index)
            arrays[name] = split
            _write_split(tmp, name, split)

        train_counts = np.bincount(arrays["train"].labels, minlength=len(labels))
        missing = [c for c in labels if not descriptions.get(c)]
        if missing:
            warnings["codes without a description"] += len(missing)
        with open(tmp / "labels.tsv", "w", encoding="utf-8", newline="\n") as f:
            for code, count in zip(labels, train_counts):
                desc = " ".join(str(descriptions.get(code) or code).split())  # one line, no tabs
                f.write(f"{code}\t{desc}\t{count}\n")
        vocab.save(tmp / "vocab.txt")

        epochs_chosen = "given" if word2vec_epochs is not None else "rule"
        if word2vec_epochs is None:
            word2vec_epochs = word2vec_epochs_for(len(arrays["train"].tokens), len(vocab))
        embeddings = _embeddings(vocab, arrays["train"], embedding_dim, word2vec_epochs, seed)
        np.save(tmp / "embeddings.npy", embeddings)

        meta = {
            "format_version": FORMAT_VERSION,
            "source": source,
            "settings": dict(settings),
            "tokenization": {"min_doc_freq": min_doc_freq, "max_tokens": max_tokens},
            "word2vec": {"dim": embedding_dim, "epochs": word2vec_epochs, "epochs_chosen": epochs_chosen, "seed": seed,
                         "algorithm": "cbow"},
            "counts": {
                **{f"{n}_documents": len(arrays[n]) for n in SPLITS},
                "labels": len(labels),
                "vocabulary": len(vocab),
                "mean_tokens": round(float(np.mean(np.concatenate([arrays[n].lengths for n in SPLITS]))), 1),
            },
            "clean_labels": arrays["train"].clean_labels is not None,
            "evidence": {n: int(len(np.unique(arrays[n].evidence[:, :2], axis=0))) for n in SPLITS
                         if arrays[n].evidence is not None},  # (document, code) pairs with gold evidence
            "warnings": dict(sorted(warnings.items())),
            "sha256": {p.name: _sha256(p) for p in sorted(tmp.iterdir())},
        }
        with open(tmp / "meta.json", "w", encoding="utf-8", newline="\n") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if warnings:
        log.warning("%s: %s", out, warnings.summary())
    return out


def _evidence_positions(doc: Document, max_tokens: int, warnings: WarningCounter) -> dict[str, list[int]] | None:
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


def _evidence_array(per_doc: Sequence[dict | None], label_index: Mapping[str, int]) -> np.ndarray:
    rows = [(d, label_index[code], p) for d, evidence in enumerate(per_doc) for code, positions in (evidence or {}).items()
            if code in label_index for p in positions]
    return np.array(sorted(rows), np.int32).reshape(-1, 3)


def _embeddings(vocab: Vocabulary, train: Split, dim: int, epochs: int, seed: int) -> np.ndarray:
    """word2vec vectors per vocabulary row; ``epochs=0`` skips word2vec (seeded random rows)."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(0.0, 0.1, (len(vocab), dim)).astype(np.float32)
    embeddings[0] = 0.0
    if epochs > 0:
        log.info("training word2vec (CBOW, %d dims, %d epochs) on the training split", dim, epochs)
        w2v = train_word2vec(vocab, train, dim, epochs, seed)
        for i, token in enumerate(vocab.tokens[1:], 1):
            if token in w2v.wv.key_to_index:
                embeddings[i] = w2v.wv[token]
    return embeddings


def _write_split(folder: Path, name: str, split: Split) -> None:
    with open(folder / f"{name}.ids.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{i}\n" for i in split.ids)
    for field in SPLIT_ARRAYS:
        value = getattr(split, field)
        if value is not None:
            np.save(folder / f"{name}.{field}.npy", value)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace_dir(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out)


def load_prepared(path: str | os.PathLike) -> PreparedDataset:
    """Reads a prepared folder (memory-mapping nothing: splits are small next to RAM)."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{path}: not a prepared dataset (no meta.json); run jlan-prepare first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    codes, descriptions, counts = [], [], []
    with open(path / "labels.tsv", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise DataError(f"{path / 'labels.tsv'}:{line_no}: expected 3 tab-separated fields")
            if not fields[2].isdigit():
                raise DataError(f"{path / 'labels.tsv'}:{line_no}: field 3 (train count) is not a whole number")
            codes.append(fields[0])
            descriptions.append(fields[1])
            counts.append(int(fields[2]))
    splits = {}
    for name in SPLITS:
        load = lambda field: np.load(path / f"{name}.{field}.npy") if (path / f"{name}.{field}.npy").exists() else None
        splits[name] = Split(
            ids=(path / f"{name}.ids.txt").read_text(encoding="utf-8").splitlines(),
            **{f: load(f) for f in SPLIT_ARRAYS},
        )
    vocab = Vocabulary.load(path / "vocab.txt")
    _warn_if_word2vec_undertrained(path, meta, len(splits["train"].tokens), len(vocab))
    return PreparedDataset(
        path=path, meta=meta, codes=codes, descriptions=descriptions, train_counts=np.array(counts),
        vocab=vocab, embeddings=np.load(path / "embeddings.npy"), splits=splits,
    )


def _warn_if_word2vec_undertrained(path: Path, meta: Mapping, train_tokens: int, vocab_size: int) -> None:
    """Folders prepared before the word2vec-epochs rule (no ``epochs_chosen``) may hold vectors
    that never left their random start (README, Data)."""
    word2vec = meta.get("word2vec", {})
    wanted = word2vec_epochs_for(train_tokens, vocab_size)
    if "epochs_chosen" not in word2vec and 0 < word2vec.get("epochs", 0) < wanted:
        log.warning("%s: prepared with %d word2vec epochs, fewer than the %d this corpus gets now (see README, "
                    "Data); prepare it again (jlan-prepare ... --overwrite, or delete the folder)",
                    path, word2vec["epochs"], wanted)
