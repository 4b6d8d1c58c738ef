"""A model of any shape without a corpus, for the speed and memory benchmarks
(``experiments/benchmark.py``, ``experiments/profile_step.py``): random word vectors and
descriptions, the TF-IDF part (when on) with idf 1 and random weights where training would fit
TF-IDF + LR, the config's truncation loss ramped over 10 steps and the optimizer training
uses. A step costs what a real one costs."""

from __future__ import annotations

import numpy as np

from jlan_tf.config import Config, lexical_words_for
from jlan_tf.model import build_jlan
from jlan_tf.objective import Objective
from jlan_tf.training import make_optimizer


def random_lexical_inputs(config: Config, vocab: int, labels: int, rng) -> dict:
    """``build_jlan``'s TF-IDF part inputs without a corpus (empty when the part is off)."""
    if not config.model.lexical_output:
        return {}
    words = lexical_words_for(config.model, vocab, labels)
    if words:
        weights = (rng.integers(1, vocab, (labels, words)), rng.normal(0, 1, (labels, words)).astype(np.float32))
    else:
        weights = (rng.normal(0, 1, (vocab, labels)).astype(np.float32),)
    return {"word_idf": np.ones(vocab, np.float32), "lexical_weights": (*weights, np.full(labels, -3.0))}


def random_model(config: Config, vocab: int, labels: int, rng, embedding_dim: int = 100, compile: bool = True):
    """The model of ``config`` at this shape, compiled as training compiles it."""
    embeddings = rng.normal(0, 0.1, (vocab, embedding_dim)).astype(np.float32)
    descriptions = [rng.integers(2, vocab, 6) for _ in range(labels)]
    model = build_jlan(config, embeddings, labels, descriptions, **random_lexical_inputs(config, vocab, labels, rng))
    t = config.train
    model.set_objective(Objective(d_max=t.d_max, warmup_steps=10, drop_rank=config.study.drop_rank,
                                  drop_rounding=config.study.drop_rounding, d_max_negatives=t.d_max_negatives))
    if compile:
        model.compile(optimizer=make_optimizer(config), jit_compile=t.jit_compile)
    return model
