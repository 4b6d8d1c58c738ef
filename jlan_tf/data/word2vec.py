"""word2vec for the prepared dataset: gensim CBOW vectors trained on the training split,
and the rule that picks their number of epochs (README, Data)."""

from __future__ import annotations

import logging
import math
import zlib
from pathlib import Path
from typing import Mapping

import joblib
import numpy as np

from jlan_tf.data.documents import Split
from jlan_tf.tokenization import Vocabulary

log = logging.getLogger(__name__)


def _stable_hash(text: str) -> int:
    # gensim seeds each word vector with hash(word); Python's hash changes per process.
    return zlib.crc32(text.encode("utf-8"))


# Summed over epochs, how often the average vocabulary word is seen by word2vec. Measured on
# CodiEsp-50 (116k training tokens, 5k words): after gensim's default 5 epochs (~23 sightings
# per word) every vector still points the same way (nearest-neighbour cosine 0.998) and JLAN
# does not learn; 13 epochs learn slowly, 50 epochs well (README, Results).
WORD2VEC_SIGHTINGS = 1000


# Tokens word2vec reads in all its epochs, at most (5 epochs of 80M training tokens: more than
# MIMIC-III-full's ~70M). A larger corpus gets fewer epochs (MIMIC-IV's 162M: 2, each word still
# seen ~4,600 times on average) and word2vec's time stops growing with the notes (docs/scale.md).
WORD2VEC_MAX_TOKENS = 400_000_000


def word2vec_epochs_for(train_tokens: int, vocab_size: int) -> int:
    """gensim's 5 epochs on a large corpus (MIMIC-III, the synthetic corpus); more on a small
    one, until the average word has been seen ``WORD2VEC_SIGHTINGS`` times (at most 50); fewer
    where 5 would read more than ``WORD2VEC_MAX_TOKENS`` tokens, never below those sightings."""
    train_tokens = max(train_tokens, 1)
    needed = math.ceil(WORD2VEC_SIGHTINGS * vocab_size / train_tokens)
    epochs = min(50, max(5, needed))
    if epochs * train_tokens > WORD2VEC_MAX_TOKENS:
        epochs = min(epochs, max(1, needed, WORD2VEC_MAX_TOKENS // train_tokens))
    return int(epochs)


# Training tokens from which word2vec runs on every core (at most WORD2VEC_MAX_WORKERS threads).
# Below it (CodiEsp, MIMIC-III-50: 12M tokens) one thread, so that preparing twice gives the
# same bytes; above it (MIMIC-III-full: 72M tokens, MIMIC-IV: 165M) word2vec is the longest
# part of preparation, and two threads on 2 cores train it 1.6x faster (the scale check's word2vec
# stage at MIMIC-III-full's shape: 545 s -> 350 s, docs/scale.md), with vectors that differ from
# run to run.
WORD2VEC_PARALLEL_TOKENS = 20_000_000
WORD2VEC_MAX_WORKERS = 8


def word2vec_workers_for(train_tokens: int) -> int:
    """1 below ``WORD2VEC_PARALLEL_TOKENS`` training tokens, else every core this process may use
    (``joblib.cpu_count``: CPU affinity and container quotas, as the TF-IDF fit counts them), at most 8."""
    if train_tokens < WORD2VEC_PARALLEL_TOKENS:
        return 1
    return max(1, min(WORD2VEC_MAX_WORKERS, joblib.cpu_count()))


def train_word2vec(vocab: Vocabulary, split: Split, dim: int, epochs: int, seed: int, workers: int = 1):
    """gensim CBOW vectors over a split's documents; one worker (the default) keeps them
    identical from run to run, more are faster on a large corpus (gensim's threads then
    interleave the documents: the vectors differ from run to run)."""
    from gensim.models import Word2Vec

    return Word2Vec(
        sentences=_TokenSentences(vocab, split.tokens, split.offsets), vector_size=dim, window=5, min_count=0, sg=0,
        workers=workers, epochs=epochs, seed=seed, hashfxn=_stable_hash, sorted_vocab=True,
    )


class _TokenSentences:
    """Restartable iterable of a split's documents as token lists, for gensim."""

    def __init__(self, vocab: Vocabulary, tokens: np.ndarray, offsets: np.ndarray):
        self.vocab, self.tokens, self.offsets = vocab, tokens, offsets

    def __iter__(self):
        words = self.vocab.tokens
        for start, end in zip(self.offsets[:-1], self.offsets[1:]):
            yield [words[i] for i in self.tokens[start:end]]


def embeddings_for(vocab: Vocabulary, train: Split, dim: int, epochs: int, seed: int, workers: int = 1) -> np.ndarray:
    """word2vec vectors per vocabulary row; ``epochs=0`` skips word2vec (seeded random rows)."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(0.0, 0.1, (len(vocab), dim)).astype(np.float32)
    embeddings[0] = 0.0
    if epochs > 0:
        log.info("training word2vec (CBOW, %d dims, %d epochs) on the training split", dim, epochs)
        w2v = train_word2vec(vocab, train, dim, epochs, seed, workers)
        for i, token in enumerate(vocab.tokens[1:], 1):
            if token in w2v.wv.key_to_index:
                embeddings[i] = w2v.wv[token]
    return embeddings


def warn_if_undertrained(path: Path, meta: Mapping, train_tokens: int, vocab_size: int) -> None:
    """Folders prepared before the word2vec-epochs rule (no ``epochs_chosen``) may hold vectors
    that never left their random start (README, Data)."""
    word2vec = meta.get("word2vec", {})
    wanted = word2vec_epochs_for(train_tokens, vocab_size)
    if "epochs_chosen" not in word2vec and 0 < word2vec.get("epochs", 0) < wanted:
        log.warning("%s: prepared with %d word2vec epochs, fewer than the %d this corpus gets now (see README, "
                    "Data); prepare it again (jlan-prepare ... --overwrite, or delete the folder)",
                    path, word2vec["epochs"], wanted)
