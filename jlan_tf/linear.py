"""TF-IDF + logistic regression on a prepared dataset: the bag-of-words bar JLAN must clear
(``experiments/baseline_lr.py`` reports it) and, with ``study.lexical_init=lr``, the starting
weights of the model's TF-IDF part (``layers.LexicalOutput``).

The features are the prepared token ids (unigrams, JLAN's vocabulary) as scikit-learn's
``TfidfTransformer(sublinear_tf=True)`` weighs them, its idf fitted on the training split; one
logistic regression per code (``C`` = 10 unless told). scikit-learn's text and linear-model
modules are imported only when used (training imports this module whether or not the part is on).
"""

from __future__ import annotations

import numpy as np

from jlan_tf.data.prepared import PreparedDataset


def _tfidf(data: PreparedDataset):
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer(sublinear_tf=True).fit(data.splits["train"].word_counts(len(data.vocab)))


def word_idf(data: PreparedDataset) -> np.ndarray:
    """(vocab,) each word's smooth idf in the training split, as TF-IDF + LR computes it."""
    return _tfidf(data).idf_.astype(np.float32)


class FittedLR:
    """TF-IDF (sublinear tf) + one logistic regression per code, fitted on the training split.
    A code never seen in training gets no regression: score 0, weights 0."""

    def __init__(self, data: PreparedDataset, c: float = 10.0, seed: int = 0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        self.data = data
        self.tfidf = _tfidf(data)
        y_train = data.splits["train"].multi_hot(data.num_labels)
        self.present = y_train.sum(axis=0) > 0
        self.classifier = OneVsRestClassifier(LogisticRegression(C=c, max_iter=1000, random_state=seed), n_jobs=1)
        self.classifier.fit(self.features("train"), y_train[:, self.present])

    def features(self, split: str):
        """The split's (notes, vocab) sparse TF-IDF matrix."""
        return self.tfidf.transform(self.data.splits[split].word_counts(len(self.data.vocab)))

    def scores(self, split: str) -> np.ndarray:
        out = np.zeros((len(self.data.splits[split]), self.data.num_labels))
        out[:, self.present] = self.classifier.predict_proba(self.features(split))
        return out

    def coefficients(self) -> np.ndarray:
        """(labels, vocabulary): each code's weight per word (0 where it has no regression)."""
        out = np.zeros((self.data.num_labels, len(self.data.vocab)))
        for label, estimator in self._regressions():
            out[label] = estimator.coef_[0]
        return out

    def intercepts(self) -> np.ndarray:
        """(labels,): each code's intercept; NaN where the code has no regression."""
        out = np.full(self.data.num_labels, np.nan)
        for label, estimator in self._regressions():
            out[label] = estimator.intercept_[0]
        return out

    def _regressions(self):
        """(label, fitted logistic regression) for each code that has one: not a code never seen
        in training, nor one present in every training note (scikit-learn predicts a constant)."""
        for label, estimator in zip(np.flatnonzero(self.present), self.classifier.estimators_):
            if hasattr(estimator, "coef_"):
                yield label, estimator
