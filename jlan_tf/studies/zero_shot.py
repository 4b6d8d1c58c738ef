"""Zero-shot coding by description matching: how far a code's description alone finds the
codes that no training note has.

Every code of the label set is scored for a note by the cosine between the note's TF-IDF
vector and the code's description's (``description_scores``: one vocabulary and idf, fitted on
the training notes and the descriptions together; the project's tokenizer; sublinear term
frequencies). Nothing is trained on any code. ``recall_report`` then asks, per group of gold
(note, code) pairs (``unseen``: codes of no training or dev note; ``seen``: the others), how many
land in each note's top k. A gold code outside the label set counts as missed.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from jlan_tf.tokenization import tokenize

KS = (15, 100, 1000)


def _analyzer(text: str) -> list[str]:
    return tokenize(text, max_tokens=None)


def description_scores(notes: Sequence[str], descriptions: Sequence[str], fit_texts: Iterable[str]) -> np.ndarray:
    """(notes, codes) float32 cosines between each note and each description, TF-IDF weighted."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, dtype=np.float32)
    vectorizer.fit([*fit_texts, *descriptions])
    scores = vectorizer.transform(notes) @ vectorizer.transform(descriptions).T
    return np.asarray(scores.todense(), dtype=np.float32)


def gold_ranks(scores: np.ndarray, codes: Sequence[str], gold: Sequence[Sequence[str]]) -> list[list[int | None]]:
    """Per note, the 1-based rank of each gold code in that note's scores (ties broken by the
    label order, as ``np.argsort(-s, kind="stable")``); None for a code outside ``codes``."""
    index = {code: i for i, code in enumerate(codes)}
    ranks = []
    for row, note_codes in zip(scores, gold):
        position = np.empty(len(codes), np.int64)
        position[np.argsort(-row, kind="stable")] = np.arange(1, len(codes) + 1)
        ranks.append([int(position[index[c]]) if c in index else None for c in note_codes])
    return ranks


def recall_report(ranks: list[list[int | None]], gold: Sequence[Sequence[str]], seen: set[str],
                  num_codes: int, ks: Sequence[int] = KS) -> dict:
    """Per group (``unseen``, ``seen``): gold pairs, notes with one, pairs outside the label set,
    recall at each k (pairs ranked within k / pairs), the median rank of those in the label set;
    ``chance_at_k``: k / codes, the recall of a random ranking."""
    report = {"codes": num_codes, "chance_at_k": {str(k): k / num_codes for k in ks}}
    for group, wanted in (("unseen", False), ("seen", True)):
        pairs = [(r, note) for note, (note_ranks, codes) in enumerate(zip(ranks, gold))
                 for r, c in zip(note_ranks, codes) if (c in seen) == wanted]
        in_set = [r for r, _ in pairs if r is not None]
        report[group] = {
            "pairs": len(pairs), "notes": len({note for _, note in pairs}),
            "outside_label_set": len(pairs) - len(in_set),
            **{f"recall_at_{k}": (sum(r <= k for r in in_set) / len(pairs)) if pairs else 0.0 for k in ks},
            "median_rank": float(np.median(in_set)) if in_set else None,
        }
    return report


def unique_codes(gold: Iterable[Sequence[str]]) -> list[list[str]]:
    """Each note's codes de-duplicated in their order (a code counts once per note)."""
    return [list(dict.fromkeys(codes)) for codes in gold]


def seen_codes(splits: Mapping[str, Sequence], names: Sequence[str] = ("train", "dev")) -> set[str]:
    return {code for name in names for doc in splits[name] for code in doc.codes}
