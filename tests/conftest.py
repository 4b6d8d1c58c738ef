import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
logging.getLogger("gensim").setLevel(logging.WARNING)

CODIESP = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp"


@pytest.fixture(scope="session")
def codiesp_root():
    if not (CODIESP / "train").is_dir():
        pytest.skip(f"CodiEsp data not found at {CODIESP} (it lives beside the project, not in it)")
    return CODIESP


@pytest.fixture(scope="session")
def small_synthetic(tmp_path_factory):
    """A small prepared synthetic dataset shared by the tests that only read it."""
    from jlan_tf.data.sources import prepare_synthetic

    out = tmp_path_factory.mktemp("data") / "synthetic"
    return prepare_synthetic(out, n_docs=300, noise=0.1, seed=3, mean_tokens=120,
                             embedding_dim=16, word2vec_epochs=1)
