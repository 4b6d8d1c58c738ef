"""train.strategy=multi_worker: two worker processes on 127.0.0.1 end where one process does."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jlan_tf.distributed import is_chief, make_strategy, writes_run

WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from jlan_tf.config import Config
    from jlan_tf.data import load_prepared
    from jlan_tf.training import train
    prepared, run_dir, strategy = sys.argv[1:4]
    config = Config().apply_overrides(["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8",
                                       "model.output_hidden_dim=8", "model.embedding_dropout=0", "train.d_max=0",
                                       "train.epochs=2", "data.batch_size=16", f"train.strategy={strategy}"])
    result = train(load_prepared(prepared), config, Path(run_dir), verbose=0)
    print("EPOCHS", len(result["epochs"]))
""")


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")
    assert is_chief(make_strategy("one")) and is_chief()
    worker = lambda i, chief=False: json.dumps({"cluster": {"worker": ["a:1", "b:1"], **({"chief": ["c:1"]} if chief else {})},
                                                "task": {"type": "worker", "index": i}})
    for value, expected in ((worker(0), True), (worker(1), False), (worker(0, chief=True), False)):
        monkeypatch.setenv("TF_CONFIG", value)
        assert is_chief() is expected and writes_run("multi_worker") is expected
        assert writes_run("one")  # TF_CONFIG matters only to a multi-worker run


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_end_with_the_weights_of_one_process(small_synthetic, tmp_path):
    import keras

    import jlan_tf.model  # noqa: F401  (registers the model's classes for loading)

    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    run = lambda run_dir, strategy, extra: subprocess.Popen(
        [sys.executable, "-c", WORKER, str(small_synthetic), str(run_dir), strategy], env={**env, **extra},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    workers = [run(tmp_path / "mw", "multi_worker",
                   {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    reference = run(tmp_path / "one", "one", {})
    for process in [*workers, reference]:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        assert "EPOCHS 2" in out
    one = keras.models.load_model(tmp_path / "one" / "checkpoints" / "last.keras")
    two = keras.models.load_model(tmp_path / "mw" / "checkpoints" / "last.keras")
    # Trainable weights (the relative ranking's running means are per replica, then averaged).
    diffs = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(one.trainable_weights, two.trainable_weights)]
    print("largest weight difference, 2 workers vs 1 process:", max(diffs))
    assert max(diffs) < 1e-4
    assert (tmp_path / "mw" / "metrics.json").exists()  # the chief finished the run folder
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "mw")]
    assert abs(metrics[0]["test"]["map"] - metrics[1]["test"]["map"]) < 1e-3
