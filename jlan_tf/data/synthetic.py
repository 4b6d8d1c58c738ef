"""The built-in synthetic MIMIC-like corpus (README: "The synthetic corpus").

Discharge-summary-like notes for a label set with real ICD-9-CM descriptions, made hard
enough that a bag of words does not solve it:

- long-tailed code frequencies (Zipf weights) and co-occurring clusters;
- each true code is written as its long or short description, a synonym or abbreviation,
  or only indirectly (drugs, procedures, findings);
- distractors that must not be coded: the same surface forms of *other* codes, negated,
  ruled out or in the family history; filler prose between sections;
- label noise: each true code is missed with probability ``noise``, and wrong codes
  (mostly the negated distractors, as a hurried coder would) are added at the same rate;
  the clean labels travel beside the noisy ones so the denoising can be measured.

Codes outside the MIMIC-III-50 lexicon (``codes=N``) use their long and short
descriptions and a shortened description as surface forms, with no indirect clues.
Seeded: the same arguments give the same corpus.
"""

from __future__ import annotations

import random
from typing import Iterator

from jlan_tf.data.descriptions import icd9_descriptions
from jlan_tf.data.mimic3 import MIMIC3_TOP50
from jlan_tf.data.prepared import Document
from jlan_tf.data.synthetic_lexicon import (
    CLUSTERS, EXCLUSIVE, FILLER, LEXICON, NEGATED_TEMPLATES, POSITIVE_TEMPLATES, SECTIONS,
)

SPLIT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}
_VAGUE = {"unspecified", "other", "nos", "of", "the", "and", "with", "without", "or", "in", "to", "site", "type", "not"}


class CodeForms:
    """Surface forms and clusters for a label set."""

    def __init__(self, codes: list[str], seed: int):
        long_desc, short_desc = icd9_descriptions(), icd9_descriptions(short=True)
        self.codes = codes
        self.forms: dict[str, list[str]] = {}
        self.clues: dict[str, list[str]] = {}
        for code in codes:
            names = [long_desc.get(code, code).lower(), short_desc.get(code, code).lower()]
            words = [w for w in names[0].replace(",", " ").split() if w not in _VAGUE]
            if len(words) >= 2:
                names.append(" ".join(words[:3]))
            synonyms, clues = LEXICON.get(code, ([], []))
            self.forms[code] = names + synonyms
            self.clues[code] = clues
        rng = random.Random(seed)
        ranks = list(range(1, len(codes) + 1))
        rng.shuffle(ranks)
        self.weight = {code: 1.0 / rank ** 0.8 for code, rank in zip(codes, ranks)}  # long tail
        known = set(codes)
        self.clusters = [[c for c in cluster if c in known] for cluster in CLUSTERS]
        self.clusters = [c for c in self.clusters if len(c) >= 3]
        if len(self.clusters) < 3:  # a sampled label set: random clusters of 5 to 10 codes
            shuffled = codes[:]
            rng.shuffle(shuffled)
            self.clusters, i = [], 0
            while i < len(shuffled):
                size = rng.randint(5, 10)
                self.clusters.append(shuffled[i:i + size])
                i += size


def sample_icd9_codes(n: int, seed: int) -> list[str]:
    """n ICD-9-CM codes (diagnoses and procedures) drawn with a fixed seed."""
    table = icd9_descriptions()
    return sorted(random.Random(seed).sample(sorted(table), n))


def _true_codes(forms: CodeForms, rng: random.Random) -> list[str]:
    chosen: set[str] = set()
    for cluster in rng.sample(forms.clusters, k=min(len(forms.clusters), rng.choice([1, 1, 2, 2, 3]))):
        for code in cluster:
            if rng.random() < 0.25 + 0.6 * forms.weight[code]:
                chosen.add(code)
    extra = rng.choices(forms.codes, weights=[forms.weight[c] for c in forms.codes], k=rng.randint(0, 3))
    chosen.update(extra)
    if not chosen:
        chosen.add(rng.choice(forms.codes))
    for keep, drop in EXCLUSIVE:
        if keep in chosen:
            chosen.discard(drop)
    return sorted(chosen)


def _mention(forms: CodeForms, code: str, rng: random.Random) -> str:
    clues = forms.clues[code]
    if clues and rng.random() < 0.3:
        return rng.choice(clues)
    return rng.choice(POSITIVE_TEMPLATES).format(rng.choice(forms.forms[code]))


def generate_note(forms: CodeForms, codes: list[str], rng: random.Random, mean_tokens: int) -> tuple[str, list[str]]:
    """One note for ``codes``; also returns the distractor codes it mentions (not to be coded)."""
    others = [c for c in forms.codes if c not in codes]
    distractors = rng.sample(others, k=min(len(others), rng.randint(1, max(2, len(codes)))))
    sentences = [(rng.random(), _mention(forms, c, rng)) for c in codes]
    sentences += [(rng.random(), rng.choice(NEGATED_TEMPLATES).format(rng.choice(forms.forms[c]))) for c in distractors]
    n_filler = max(0, int(rng.gauss(mean_tokens, mean_tokens / 4) / 6) - len(sentences))
    sentences += [(rng.random(), rng.choice(FILLER)) for _ in range(n_filler)]
    sentences.sort()
    body, per_section = [], max(1, len(sentences) // len(SECTIONS) + 1)
    for i, section in enumerate(SECTIONS):
        chunk = [s for _, s in sentences[i * per_section:(i + 1) * per_section]]
        if chunk:
            body.append(f"{section.title()}:\n" + ". ".join(s.capitalize() for s in chunk) + ".")
    if rng.random() < 0.4:  # sometimes a partial discharge-diagnosis list, as real notes have
        listed = [rng.choice(forms.forms[c]) for c in codes if rng.random() < 0.5]
        if listed:
            body.append("Discharge Diagnoses:\n" + "\n".join(f"{i}. {d}" for i, d in enumerate(listed, 1)))
    return "\n\n".join(body), distractors


def _noisy(codes: list[str], distractors: list[str], all_codes: list[str], noise: float, rng: random.Random) -> list[str]:
    kept = [c for c in codes if rng.random() >= noise]
    for _ in codes:
        if rng.random() < noise:
            pool = distractors if distractors and rng.random() < 0.7 else all_codes
            kept.append(rng.choice(pool))
    return sorted(set(kept))


def generate(codes: list[str], n_docs: int, noise: float = 0.1, seed: int = 0,
             mean_tokens: int = 300) -> dict[str, Iterator[Document]]:
    """Train/dev/test documents (80/10/10) with noisy ``codes`` and ``clean_codes``."""
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise}")
    forms = CodeForms(codes, seed)
    bounds, start = {}, 0
    for name, fraction in SPLIT_FRACTIONS.items():
        size = round(n_docs * fraction) if name != "test" else n_docs - start
        bounds[name] = (start, start + size)
        start += size

    def split(name: str) -> Iterator[Document]:
        lo, hi = bounds[name]
        for i in range(lo, hi):
            rng = random.Random(f"{seed}-{i}")  # each note on its own stream: splits are independent
            clean = _true_codes(forms, rng)
            text, distractors = generate_note(forms, clean, rng, mean_tokens)
            yield Document(f"synth-{i:06d}", text, _noisy(clean, distractors, codes, noise, rng), clean)

    return {name: split(name) for name in SPLIT_FRACTIONS}
