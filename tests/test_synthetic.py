import numpy as np

from jlan_tf.data import load_prepared, synthetic
from jlan_tf.data.mimic3 import MIMIC3_TOP50
from jlan_tf.data.synthetic_lexicon import CLUSTERS, LEXICON


def test_lexicon_covers_exactly_the_top50_codes():
    assert sorted(LEXICON) == MIMIC3_TOP50
    assert {c for cluster in CLUSTERS for c in cluster} <= set(MIMIC3_TOP50)


def test_generation_is_seeded_and_splits_are_80_10_10():
    a = {k: list(v) for k, v in synthetic.generate(MIMIC3_TOP50, 200, noise=0.2, seed=1).items()}
    b = {k: list(v) for k, v in synthetic.generate(MIMIC3_TOP50, 200, noise=0.2, seed=1).items()}
    c = list(synthetic.generate(MIMIC3_TOP50, 200, noise=0.2, seed=2)["train"])
    assert [len(a[k]) for k in ("train", "dev", "test")] == [160, 20, 20]
    assert [d.text for d in a["train"]] == [d.text for d in b["train"]]
    assert [d.text for d in a["train"]] != [d.text for d in c]


def test_noise_rate_is_respected_and_clean_labels_kept():
    docs = list(synthetic.generate(MIMIC3_TOP50, 2000, noise=0.2, seed=0)["train"])
    missed = sum(len(set(d.clean_codes) - set(d.codes)) for d in docs)
    added = sum(len(set(d.codes) - set(d.clean_codes)) for d in docs)
    true = sum(len(d.clean_codes) for d in docs)
    assert 0.15 < missed / true < 0.25 and 0.1 < added / true < 0.25
    noiseless = list(synthetic.generate(MIMIC3_TOP50, 200, noise=0.0, seed=0)["train"])
    assert all(d.codes == d.clean_codes for d in noiseless)


def test_frequencies_are_long_tailed():
    docs = list(synthetic.generate(MIMIC3_TOP50, 3000, noise=0.0, seed=0)["train"])
    counts = np.sort(np.bincount([MIMIC3_TOP50.index(c) for d in docs for c in d.codes], minlength=50))
    assert counts[-1] > 4 * counts[0] > 0


def test_negated_distractors_use_other_codes_forms():
    forms = synthetic.CodeForms(MIMIC3_TOP50, seed=0)
    import random
    text, distractors = synthetic.generate_note(forms, ["428.0"], random.Random(0), 200)
    assert distractors and "428.0" not in distractors


def test_sampled_label_set_works(tmp_path):
    from jlan_tf.data.sources import prepare_synthetic

    out = prepare_synthetic(tmp_path / "s", codes="30", n_docs=100, embedding_dim=8, word2vec_epochs=1)
    data = load_prepared(out)
    assert data.num_labels == 30 and all(data.descriptions)
