"""Mixed precision, proven where it can be without a GPU: ``model.precision=mixed_float16``
forced on CPU trains the default model (truncation loss, loss scaling, the TF-IDF part) with
losses close to float32's, and its export serves float32 probabilities equal to the Keras
model's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.config import Config
from jlan_tf.data import load_prepared
from jlan_tf.data.pipeline import make_dataset
from jlan_tf.model import set_precision
from jlan_tf.training import new_model, train

TINY = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8",
        "train.burn_in_epochs=0", "train.warmup_epochs=0.1"]


@pytest.fixture
def restore_policy():
    yield
    set_precision("float32")


# With the attention in chunks (fewer codes a chunk than the corpus has), training takes
# jlan_tf.projected_scores: that path under mixed precision too, its chunks in the compute dtype
# and with attention_precision=auto (bfloat16 chunks on a CPU with bfloat16 instructions).
@pytest.mark.parametrize("chunk", [[], ["model.attention_chunk=4", "model.attention_precision=compute"], ["model.attention_chunk=4"]])
def test_mixed_float16_trains_the_default_model_like_float32(small_synthetic, restore_policy, chunk):
    data = load_prepared(small_synthetic)
    losses, dropped = {}, {}
    for precision in ("float32", "mixed_float16"):
        set_precision(precision)
        keras.utils.set_random_seed(0)
        model = new_model(data, Config().apply_overrides(TINY + chunk + [f"model.precision={precision}"]))
        assert model.projected_training == bool(chunk)
        logs = [model.train_on_batch(x, y, return_dict=True)
                for x, y in make_dataset(data, "train", 16, training=True).take(6)]
        losses[precision] = np.array([float(l["loss"]) for l in logs])
        dropped[precision] = float(logs[-1]["dropped"])
        if precision == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
            assert model.get_layer("bilstm").compute_dtype == "float16"
            assert model.get_layer("lexical_output").compute_dtype == "float32"
    assert np.isfinite(losses["mixed_float16"]).all()
    np.testing.assert_allclose(losses["mixed_float16"], losses["float32"], rtol=0.02)
    assert dropped["mixed_float16"] > 0 and dropped["float32"] > 0  # the truncation loss ran in both


@pytest.mark.slow
def test_a_mixed_float16_export_serves_float32_probabilities(small_synthetic, tmp_path, restore_policy):
    from jlan_tf.serving import export_run
    from test_serving import NOTES, keras_probabilities

    config = Config().apply_overrides(TINY + ["model.precision=mixed_float16", "train.epochs=1"])
    train(load_prepared(small_synthetic), config, tmp_path / "run", verbose=0)
    path = export_run(tmp_path / "run", out=tmp_path / "saved_models" / "mixed", top_k=5)
    served = tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(NOTES))
    assert served["probabilities"].dtype == tf.float32
    # float16 activations: agreement to 2e-3 between the batch paths of Keras and of the export.
    np.testing.assert_allclose(served["probabilities"].numpy(), keras_probabilities(tmp_path / "run", NOTES),
                               atol=2e-3)
