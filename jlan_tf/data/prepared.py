"""The prepared dataset: the one format every adapter writes and everything after reads.

A prepared folder holds (all plain files, so preparing twice gives identical bytes, except
the word vectors of a corpus large enough for word2vec to run on several threads):

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
  gold evidence span (a token is in a span when their characters overlap); ``S.codes.tsv``:
  per document ``id<TAB>codes`` (space-separated), every code the source gave it, in the label
  set or not (what a task's official measure scores against, ``metrics.codiesp_map``).

No note text is stored: only token ids. The folder is written under a temporary name and
renamed into place, so a failed preparation never leaves a half-written ``--out``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from jlan_tf.data.documents import DataError, Document, Split, WarningCounter  # noqa: F401 (re-exported)
from jlan_tf.data.evidence_spans import evidence_array, evidence_positions
from jlan_tf.data.word2vec import embeddings_for, warn_if_undertrained, word2vec_epochs_for, word2vec_workers_for
from jlan_tf.tokenization import DEFAULT_MAX_TOKENS, UNK_ID, Vocabulary, tokenize

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
SPLIT_ARRAYS = ("tokens", "offsets", "labels", "label_offsets", "clean_labels", "clean_label_offsets", "evidence")
FORMAT_VERSION = 1


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
    word2vec_workers: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Tokenizes, encodes and writes the three splits as a prepared folder at ``out``.

    ``labels`` fixes the label set (codes outside it are dropped from the label arrays, kept in
    ``S.codes.tsv``); by default it is every code seen in the training or dev split: never
    the test split's (a label set read from test tells the model which codes its test notes
    have). ``word2vec_epochs=None`` picks them from the corpus size
    (``word2vec.word2vec_epochs_for``). ``word2vec_workers`` > 1 trains word2vec on that many
    threads: faster on a large corpus, but the vectors (and so the folder's bytes) then differ
    from run to run; ``None`` picks one thread for a corpus under 20 million training tokens,
    every core above (``word2vec.word2vec_workers_for``). Returns the folder's path.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (pass overwrite=True / --overwrite to replace it)")
    warnings = warnings if warnings is not None else WarningCounter()
    if set(splits) != set(SPLITS):
        raise ValueError(f"splits must be exactly {SPLITS}, got {sorted(splits)}")
    encoded, words = _tokenize_splits(splits, source, max_tokens, warnings)
    labels = list(labels) if labels is not None else \
        sorted({c for name in ("train", "dev") for codes in encoded[name]["codes"] for c in codes})
    label_index = {code: i for i, code in enumerate(labels)}
    vocab, remap = _vocabulary(words, encoded["train"]["tokens"], min_doc_freq)  # training split only

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if out.parent.exists() else None))
    try:
        arrays = {name: _split_arrays(encoded[name], remap, label_index) for name in SPLITS}
        for name, split in arrays.items():
            _write_split(tmp, name, split)
        _write_labels(tmp / "labels.tsv", labels, descriptions, np.bincount(arrays["train"].labels,
                                                                            minlength=len(labels)), warnings)
        vocab.save(tmp / "vocab.txt")
        epochs_chosen = "given" if word2vec_epochs is not None else "rule"
        if word2vec_epochs is None:
            word2vec_epochs = word2vec_epochs_for(len(arrays["train"].tokens), len(vocab))
        if word2vec_workers is None:
            word2vec_workers = word2vec_workers_for(len(arrays["train"].tokens))
        np.save(tmp / "embeddings.npy", embeddings_for(vocab, arrays["train"], embedding_dim, word2vec_epochs, seed,
                                                        word2vec_workers))
        meta = _meta(source, settings, min_doc_freq, max_tokens, embedding_dim, word2vec_epochs, epochs_chosen, seed,
                     arrays, labels, vocab, warnings, tmp)
        if word2vec_workers > 1:  # the vectors differ from run to run: say so
            meta["word2vec"]["workers"] = word2vec_workers
        with open(tmp / "meta.json", "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if warnings:
        log.warning("%s: %s", out, warnings.summary())
    return out


def _meta(source, settings, min_doc_freq, max_tokens, embedding_dim, word2vec_epochs, epochs_chosen, seed,
          arrays: dict[str, Split], labels: list[str], vocab: Vocabulary, warnings: WarningCounter, folder: Path) -> dict:
    return {
        "format_version": FORMAT_VERSION, "source": source, "settings": dict(settings),
        "tokenization": {"min_doc_freq": min_doc_freq, "max_tokens": max_tokens},
        "word2vec": {"dim": embedding_dim, "epochs": word2vec_epochs, "epochs_chosen": epochs_chosen, "seed": seed,
                     "algorithm": "cbow"},
        "counts": {**{f"{n}_documents": len(arrays[n]) for n in SPLITS}, "labels": len(labels),
                   "vocabulary": len(vocab),
                   "mean_tokens": round(float(np.mean(np.concatenate([arrays[n].lengths for n in SPLITS]))), 1)},
        "clean_labels": arrays["train"].clean_labels is not None,
        "evidence": {n: int(len(np.unique(arrays[n].evidence[:, :2], axis=0))) for n in SPLITS
                     if arrays[n].evidence is not None},  # (document, code) pairs with gold evidence
        "warnings": dict(sorted(warnings.items())),
        "sha256": {p.name: _sha256(p) for p in sorted(folder.iterdir())},
    }


def _tokenize_splits(splits: Mapping[str, Iterable[Document]], source: str, max_tokens: int,
                     warnings: WarningCounter) -> tuple[dict[str, dict], list[str]]:
    """Tokenizes every document once into provisional ids (first-seen order); returns per
    split its ids, tokens, codes, clean codes and evidence, and the provisional words."""
    provisional: dict[str, int] = {}
    setdefault = provisional.setdefault
    encoded: dict[str, dict] = {}
    seen_ids: set[str] = set()
    for name in SPLITS:
        part = encoded[name] = {"ids": [], "tokens": [], "codes": [], "clean": [], "evidence": []}
        # A progress bar on a terminal only (counts, never text); log lines elsewhere.
        for n, doc in enumerate(tqdm(splits[name], desc=f"tokenizing {name}", unit=" notes", disable=None,
                                     leave=False), 1):
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
            part["evidence"].append(evidence_positions(doc, max_tokens, warnings))
            if n % 10000 == 0:
                log.info("%s: tokenized %d documents", name, n)
        log.info("%s: %d documents", name, len(part["ids"]))
    if not encoded["train"]["ids"]:
        raise DataError(f"{source}: the training split has no usable document")
    return encoded, list(provisional)


def _vocabulary(words: list[str], train_tokens: list[np.ndarray], min_doc_freq: int) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary of the training documents and the map provisional id -> its id (UNK if dropped)."""
    doc_freq = np.zeros(len(words), np.int64)
    for ids in train_tokens:
        doc_freq[np.unique(ids)] += 1
    vocab = Vocabulary.from_doc_freq(dict(zip(words, doc_freq.tolist())), min_doc_freq)
    return vocab, np.array([vocab.index.get(w, UNK_ID) for w in words], np.int32).reshape(-1)


def _split_arrays(part: dict, remap: np.ndarray, label_index: Mapping[str, int]) -> Split:
    token_arrays = [remap[t] for t in part["tokens"]]
    labels_flat, label_offsets = _label_arrays(part["codes"], label_index)
    split = Split(ids=part["ids"], tokens=np.concatenate(token_arrays or [np.zeros(0, np.int32)]).astype(np.int32),
                  offsets=_offsets([len(t) for t in token_arrays]), labels=labels_flat, label_offsets=label_offsets,
                  gold_codes=[list(dict.fromkeys(codes)) for codes in part["codes"]])
    if part["clean"] and all(c is not None for c in part["clean"]):
        split.clean_labels, split.clean_label_offsets = _label_arrays(part["clean"], label_index)
    if any(e is not None for e in part["evidence"]):
        split.evidence = evidence_array(part["evidence"], label_index)
    return split


def _write_labels(path: Path, labels: list[str], descriptions: Mapping[str, str], train_counts: np.ndarray,
                  warnings: WarningCounter) -> None:
    missing = [c for c in labels if not descriptions.get(c)]
    if missing:
        warnings["codes without a description"] += len(missing)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for code, count in zip(labels, train_counts):
            desc = " ".join(str(descriptions.get(code) or code).split())  # one line, no tabs
            f.write(f"{code}\t{desc}\t{count}\n")


def _write_split(folder: Path, name: str, split: Split) -> None:
    with open(folder / f"{name}.ids.txt", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{i}\n" for i in split.ids)
    if split.gold_codes is not None:
        with open(folder / f"{name}.codes.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{i}\t{' '.join(codes)}\n" for i, codes in zip(split.ids, split.gold_codes))
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


def _read_gold(path: Path) -> list[list[str]] | None:
    """``S.codes.tsv``'s codes per document (None for folders prepared before it existed)."""
    if not path.is_file():
        return None
    return [line.split("\t", 1)[1].split() for line in path.read_text(encoding="utf-8").splitlines()]


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
            **{f: load(f) for f in SPLIT_ARRAYS}, gold_codes=_read_gold(path / f"{name}.codes.tsv"),
        )
    vocab = Vocabulary.load(path / "vocab.txt")
    warn_if_undertrained(path, meta, len(splits["train"].tokens), len(vocab))
    return PreparedDataset(
        path=path, meta=meta, codes=codes, descriptions=descriptions, train_counts=np.array(counts),
        vocab=vocab, embeddings=np.load(path / "embeddings.npy"), splits=splits,
    )
