import numpy as np
import pytest

from jlan_tf.tokenization import PAD, UNK, Vocabulary, tokenize


def test_tokenize_lowercases_splits_and_drops_numbers():
    text = "Pt. w/ CHF; BP 120/80, on Lasix 40mg x2 (2019). A1c=8.2 non_compliant"
    assert tokenize(text) == ["pt", "w", "chf", "bp", "on", "lasix", "40mg", "x2", "a1c", "non", "compliant"]


def test_tokenize_keeps_whole_runs_and_unicode_letters():
    assert tokenize("abc123def 12ab ab12 123") == ["abc123def", "12ab", "ab12"]
    assert tokenize("Niño con fiebre, ÁCIDO úrico") == ["niño", "con", "fiebre", "ácido", "úrico"]


def test_tokenize_truncates_after_dropping():
    assert tokenize("1 a 2 b 3 c d", max_tokens=3) == ["a", "b", "c"]
    assert len(tokenize("word " * 100_000)) == 2500
    assert tokenize("") == [] and tokenize("   \n 42 ") == []


def test_vocabulary_min_doc_freq_and_order():
    docs = [["b", "a", "a", "c"], ["a", "b"], ["a", "d"]]
    vocab = Vocabulary.build(docs, min_doc_freq=2)
    assert vocab.tokens == [PAD, UNK, "a", "b"]  # a in 3 docs, b in 2; c, d in one
    np.testing.assert_array_equal(vocab.encode(["b", "zzz", "a"]), [3, 1, 2])
    assert vocab.decode([2, 3]) == ["a", "b"]


def test_vocabulary_round_trip(tmp_path):
    vocab = Vocabulary([PAD, UNK, "x", "y"])
    vocab.save(tmp_path / "v.txt")
    assert Vocabulary.load(tmp_path / "v.txt").tokens == vocab.tokens
    with pytest.raises(ValueError):
        Vocabulary(["x", PAD, UNK])
