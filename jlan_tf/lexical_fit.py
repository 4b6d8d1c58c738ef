"""TF-IDF + LR with a few words per code, for the model's TF-IDF part at any scale
(``model.lexical_words`` = K > 0, or -1 at a shape where every word does not fit:
``config.lexical_words_for``; ``study.lexical_init=lr``).

``linear.FittedLR`` fits one logistic regression per code on the whole vocabulary: at
MIMIC-III-full's shape (47.7k notes, 51.9k words, 8,921 codes) that is a 1.85 GB dense
kernel and many hours on one core. Here each code's regression sees only its K candidate
words, chosen before the fit: the words in most of the code's training notes, weighed by
their idf (a code's own words, not the words every note has). The regressions are those of
``FittedLR`` (scikit-learn's ``LogisticRegression``, the same ``C``, sublinear TF-IDF) on
those columns, fitted in parallel on every core; the result is the sparse kernel of
``layers.LexicalOutput(words_per_label=K)``.

Beyond ``MAX_NEGATIVES`` training notes without a code (MIMIC-IV: 110k training notes), its
regression sees all its notes and ``MAX_NEGATIVES`` of the others drawn at random, each weighed
by (notes without the code) / ``MAX_NEGATIVES``, so that the objective is the full one in
expectation: the fit's cost stops growing with the notes. Every corpus up to MIMIC-III-full's
47.7k training notes is fitted on every note, as before (docs/scale.md gives the check of the
sampled fit against the full one).

The fit is cached in the prepared folder (``cache/lexical-<key>.npz``), keyed by the
folder's content hashes and the fit's settings, so seeds and variants reuse it.

``lexical_inputs`` gives ``build_jlan`` the TF-IDF part's inputs for a config: this sparse
fit, or with ``model.lexical_words=0`` the dense one of ``linear.FittedLR``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from jlan_tf.config import Config, lexical_words_for
from jlan_tf.data.prepared import PreparedDataset
from jlan_tf.linear import FittedLR, _tfidf, word_idf

log = logging.getLogger(__name__)
FIT_VERSION = 1  # part of the cache key: a change to the fit below must bump it
MAX_NEGATIVES = 50_000  # per code, notes without it that its regression sees (None: all)


@dataclasses.dataclass
class SparseLR:
    """Per code its K candidate words (0 = unused slot), their weights and the intercept
    (NaN where the code has no regression: never in training, or in every training note)."""

    word_ids: np.ndarray    # (labels, K) int32
    weights: np.ndarray     # (labels, K) float32
    intercepts: np.ndarray  # (labels,) float64
    idf: np.ndarray         # (vocab,) float32

    def decision_function(self, features: sparse.spmatrix) -> np.ndarray:
        """(notes, labels) scores for TF-IDF ``features`` (codes without a regression: 0)."""
        features = sparse.csc_matrix(features)
        out = np.zeros((features.shape[0], len(self.word_ids)))
        for label, (ids, w) in enumerate(zip(self.word_ids, self.weights)):
            if not np.isnan(self.intercepts[label]):
                out[:, label] = features[:, ids] @ w + self.intercepts[label]
        return out


def candidate_words(binary: sparse.csr_matrix, y: sparse.csr_matrix, idf: np.ndarray, k: int,
                    chunk: int = 512) -> np.ndarray:
    """(labels, k) int32: per code the k words with the largest (training notes of the code
    that contain the word) x idf; 0 fills the slots of a code with fewer words. ``binary``
    (notes, vocab) marks which words each note has, ``y`` (notes, labels) the codes."""
    labels = y.shape[1]
    out = np.zeros((labels, k), np.int32)
    y_t = sparse.csr_matrix(y.T, dtype=np.float32)
    for start in range(0, labels, chunk):  # (chunk, vocab) sparse counts at a time
        counts = (y_t[start:start + chunk] @ binary).tocsr()
        for row in range(counts.shape[0]):
            lo, hi = counts.indptr[row], counts.indptr[row + 1]
            words, score = counts.indices[lo:hi], counts.data[lo:hi] * idf[counts.indices[lo:hi]]
            words, score = words[words > 0], score[words > 0]
            if len(words) > k:
                top = np.argpartition(-score, k - 1)[:k]
                words, score = words[top], score[top]
            out[start + row, :len(words)] = words[np.argsort(-score, kind="stable")]
    return out


def _fit_codes(features: sparse.csc_matrix, y: sparse.csc_matrix, word_ids: np.ndarray, labels: np.ndarray,
               c: float, seed: int, max_negatives: int | None) -> list[tuple[int, np.ndarray, float]]:
    from sklearn.linear_model import LogisticRegression

    out = []
    for label in labels:
        target = y[:, label].toarray().ravel()
        if target.min() == target.max():  # never seen, or in every note: no regression
            continue
        ids = word_ids[label]
        used = ids > 0
        x, weight = features[:, ids[used]], None
        negatives = np.flatnonzero(target == 0)
        if max_negatives is not None and len(negatives) > max_negatives:
            rng = np.random.default_rng([seed, int(label)])  # the same draw whatever the chunks
            rows = np.sort(np.concatenate([np.flatnonzero(target), rng.choice(negatives, max_negatives, replace=False)]))
            x, target = x[rows], target[rows]
            weight = np.where(target == 0, len(negatives) / max_negatives, 1.0)
        model = LogisticRegression(C=c, max_iter=1000, random_state=seed)
        model.fit(x, target, sample_weight=weight)
        weights = np.zeros(len(ids))
        weights[used] = model.coef_[0]
        out.append((int(label), weights, float(model.intercept_[0])))
    return out


def _training_candidates(data: PreparedDataset, words_per_label: int):
    """The training split's fitted TF-IDF, word counts (csr), codes (csr) and each code's candidate words."""
    train = data.splits["train"]
    tfidf = _tfidf(data)
    counts = train.word_counts(len(data.vocab)).tocsr()
    y = sparse.csr_matrix(train.multi_hot(data.num_labels))
    return tfidf, counts, y, candidate_words((counts > 0).astype(np.float32), y, tfidf.idf_, words_per_label)


def fit_sparse_lr(data: PreparedDataset, words_per_label: int, c: float = 10.0, seed: int = 0,
                  n_jobs: int | None = None, max_negatives: int | None = MAX_NEGATIVES) -> SparseLR:
    """Fits the K-words-per-code TF-IDF + LR on the training split (on ``n_jobs`` processes,
    default every core this process may use: ``joblib.cpu_count``); each code's regression on
    at most ``max_negatives`` of the notes without it (weighed up; None: every note)."""
    from joblib import Parallel, cpu_count, delayed

    from jlan_tf.memory import check_fits, lexical_fit_bytes

    n_jobs = n_jobs or cpu_count()
    train = data.splits["train"]
    check_fits(lexical_fit_bytes(len(train.tokens), data.num_labels, words_per_label, n_jobs),
               "the TF-IDF part's fit", "--set model.lexical_words=N with a smaller N, or "
               "--set model.lexical_output=false trains the network alone")
    tfidf, counts, y, word_ids = _training_candidates(data, words_per_label)
    features = sparse.csc_matrix(tfidf.transform(counts))
    order = np.argsort(-np.asarray(y.sum(axis=0)).ravel(), kind="stable")  # frequent codes first: balanced chunks
    chunks = [order[i::n_jobs * 8] for i in range(min(len(order), n_jobs * 8))]
    y_csc = sparse.csc_matrix(y)
    fit = delayed(_fit_codes)
    results = Parallel(n_jobs=n_jobs)(fit(features, y_csc, word_ids, chunk, c, seed, max_negatives) for chunk in chunks)
    weights = np.zeros(word_ids.shape, np.float32)
    intercepts = np.full(data.num_labels, np.nan)
    for label, w, b in (item for part in results for item in part):
        weights[label], intercepts[label] = w, b
    return SparseLR(word_ids, weights, intercepts, tfidf.idf_.astype(np.float32))


def cache_key(data: PreparedDataset, words_per_label: int, c: float, seed: int,
              max_negatives: int | None = MAX_NEGATIVES) -> str:
    """What the fit is made from: the prepared folder's content and the fit's settings (the
    negatives' cap only where it samples: a fit on every note keeps the key it had before the cap)."""
    made_from = {"sha256": data.meta.get("sha256", {}), "words_per_label": words_per_label, "c": c, "seed": seed,
                 "fit_version": FIT_VERSION}
    if max_negatives is not None and len(data.splits["train"]) > max_negatives:
        made_from["max_negatives"] = max_negatives
    return hashlib.sha256(json.dumps(made_from, sort_keys=True).encode()).hexdigest()[:16]


def cached_sparse_lr(data: PreparedDataset, words_per_label: int, c: float = 10.0, seed: int = 0) -> SparseLR:
    """``fit_sparse_lr``, read from the prepared folder's cache when it was fitted before
    (and written there after a fit, when the folder is writable)."""
    path = Path(data.path) / "cache" / f"lexical-{cache_key(data, words_per_label, c, seed)}.npz"
    if path.exists():
        with np.load(path) as saved:
            log.info("TF-IDF + LR part read from %s", path)
            return SparseLR(saved["word_ids"], saved["weights"], saved["intercepts"], saved["idf"])
    fitted = fit_sparse_lr(data, words_per_label, c, seed)
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **dataclasses.asdict(fitted))
        tmp.replace(path)
    except OSError as e:  # a read-only prepared folder: fit again next time
        log.warning("could not cache the TF-IDF + LR part in %s (%s)", path.parent, e)
    return fitted


def lexical_inputs(data: PreparedDataset, config: Config) -> dict:
    """``build_jlan``'s arguments for the TF-IDF part (``model.lexical_output``): the words' idf and,
    with ``study.lexical_init=lr``, TF-IDF + LR's weights fitted on the training split."""
    if not config.model.lexical_output:
        return {}
    megabytes = len(data.vocab) * data.num_labels * 4 / 1e6
    words = lexical_words_for(config.model, len(data.vocab), data.num_labels)
    if megabytes > 500 and not words:
        log.warning("model.lexical_words=0: the TF-IDF part has %d words x %d codes = %.0f MB of weights (and with "
                    "lexical_init=lr one regression per code on every word to fit first); model.lexical_words=-1 "
                    "keeps 128 words per code", len(data.vocab), data.num_labels, megabytes)
    if config.study.lexical_init not in ("zeros", "lr"):
        raise ValueError(f"study.lexical_init={config.study.lexical_init!r}: expected zeros or lr")
    if words > 0:
        return _sparse_lexical_inputs(data, config, words)
    if config.study.lexical_init == "zeros":
        return {"word_idf": word_idf(data)}
    start = time.perf_counter()
    fitted = FittedLR(data, seed=config.train.seed)
    log.info("study.lexical_init=lr: TF-IDF + LR fitted on the training split (%d codes, %.0f s)",
             int(fitted.present.sum()), time.perf_counter() - start)
    return {"word_idf": fitted.tfidf.idf_.astype(np.float32),
            "lexical_weights": (fitted.coefficients().T, fitted.intercepts())}


def _sparse_lexical_inputs(data: PreparedDataset, config: Config, words: int) -> dict:
    """The TF-IDF part with ``model.lexical_words`` words per code (``jlan_tf.lexical_fit``): with
    ``study.lexical_init=lr`` fitted (or read from the prepared folder's cache), else the
    candidate words with weights 0."""
    if config.study.lexical_init == "zeros":
        tfidf, _, _, word_ids = _training_candidates(data, words)
        return {"word_idf": tfidf.idf_.astype(np.float32),
                "lexical_weights": (word_ids, np.zeros(word_ids.shape, np.float32), np.full(data.num_labels, np.nan))}
    start = time.perf_counter()
    fitted = cached_sparse_lr(data, words, seed=config.train.seed)
    log.info("study.lexical_init=lr: TF-IDF + LR with %d words per code (%d codes, %.0f s)", words,
             int((~np.isnan(fitted.intercepts)).sum()), time.perf_counter() - start)
    return {"word_idf": fitted.idf, "lexical_weights": (fitted.word_ids, fitted.weights, fitted.intercepts)}
