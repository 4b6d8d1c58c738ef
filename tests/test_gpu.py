"""Checks that need a GPU (``pytest -m gpu``, run by experiments/gpu_check.sh); skipped without one.

- the cuDNN kernel and FastLSTM's loop compute the same BiLSTM (same weights);
- a model exported where a GPU is visible serves on a CPU-only TensorFlow
  (``CUDA_VISIBLE_DEVICES=""``) with the same probabilities;
- a batch with an empty note trains and predicts on the GPU path.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible to TensorFlow")]


def test_cudnn_and_fast_loop_agree():
    from jlan_tf.layers.fast_lstm import FastLSTM

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(4, 50, 8)).astype(np.float32))
    mask = tf.constant(np.arange(50)[None] < np.array([50, 31, 1, 0])[:, None])
    cudnn = keras.layers.Bidirectional(FastLSTM(16, return_sequences=True, name="lstm"))
    loop = keras.layers.Bidirectional(FastLSTM(16, return_sequences=True, use_cudnn=False, name="lstm"))
    cudnn(x, mask=mask), loop(x, mask=mask)
    loop.set_weights(cudnn.get_weights())
    a, b = cudnn(x, mask=mask).numpy(), loop(x, mask=mask).numpy()
    np.testing.assert_allclose(a[:3], b[:3], atol=1e-4)  # row 3 is empty: cuDNN gets one step there
    assert np.isfinite(a).all()


def test_export_made_on_gpu_serves_on_cpu_only_tensorflow(small_synthetic, tmp_path):
    from jlan_tf.config import Config
    from jlan_tf.data import load_prepared
    from jlan_tf.serving import export_run
    from jlan_tf.training import train

    config = Config().apply_overrides(["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8",
                                       "model.output_hidden_dim=8", "train.epochs=1", "model.precision=float32"])
    train(load_prepared(small_synthetic), config, tmp_path / "run", verbose=0)
    path = export_run(tmp_path / "run", out=tmp_path / "saved")
    notes = ["Patient admitted with congestive heart failure.", "", "acute kidney injury, creatinine 2.1"]
    probe = ("import json, sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); "
             "print(json.dumps(m.signatures['serving_default'](text=tf.constant(json.loads(sys.argv[2])))"
             "['probabilities'].numpy().tolist()))")
    outputs = []
    for devices in (None, ""):
        env = dict(os.environ, **({} if devices is None else {"CUDA_VISIBLE_DEVICES": devices}))
        result = subprocess.run([sys.executable, "-c", probe, str(path), json.dumps(notes)], env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(np.array(json.loads(result.stdout.strip().splitlines()[-1])))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-4)
