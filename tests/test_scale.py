"""The scale check at a small shape, the step-memory estimate against measured steps, and the
clear stop before a job too big for the machine."""

import json
import subprocess
import sys
import textwrap

import pytest

from jlan_tf.config import Config
from jlan_tf.data.shaped import Shape
from jlan_tf.memory import MemoryBudgetError, check_step_memory, step_memory_bytes
from jlan_tf.studies.measure import disk_mb
from jlan_tf.studies.scale import scale_check


def test_the_scale_check_at_a_small_shape(tmp_path):
    shape = Shape(train=2000, dev=100, test=100, labels=1000, vocab=3000, codes_per_note=8, mean_words=40)
    overrides = ["data.batch_size=16", "data.max_tokens=200", "model.lexical_words=128"]  # the large shapes' part
    report = scale_check("custom", shape, tmp_path, overrides, keep=True,
                         requests=3, log=lambda line: None, in_process=True, word2vec_epochs=1)
    stages = report["stages"]
    assert set(stages) == {"corpus", "prepare", "word2vec", "lexical", "train_steps", "evaluate_dev", "export", "serve"}
    for name, figures in stages.items():
        assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0, name
    assert report["epoch_seconds_estimate"] == pytest.approx(report["step_seconds"] * report["steps_per_epoch"])
    assert report["steps_per_epoch"] == 2000 // 16 and report["step_seconds"] > 0
    assert report["savedmodel_mb"] == pytest.approx(disk_mb(tmp_path / "export" / "full" / "1"))
    assert report["checkpoint_mb"] == pytest.approx((tmp_path / "run" / "checkpoints" / "last.keras").stat().st_size / 1e6)
    assert 0 < report["serve_p50_ms"] <= report["serve_p95_ms"] and report["serve_p50_ms_top50"] > 0
    assert stages["evaluate_dev"]["notes"] == 100 and 0 < stages["evaluate_dev"]["dev_map"] <= 1
    assert report["vocab"] > 1000 and list((tmp_path / "prepared" / "cache").glob("lexical-*.npz"))
    assert report["budget_seconds"] == pytest.approx(sum(stages[s]["seconds"] for s in
                                                         ("prepare", "word2vec", "lexical", "evaluate_dev", "export")),
                                                     abs=0.1)


PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np, tensorflow as tf
    from jlan_tf.config import Config
    from jlan_tf.memory import step_memory_bytes
    from jlan_tf.studies.bench import random_model
    B, T, L, V = map(int, sys.argv[1:5])
    rss = lambda: int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
    config, rng = Config(), np.random.default_rng(0)
    before = rss()
    model = random_model(config, V, L, rng)
    x = {"tokens": tf.constant(rng.integers(2, V, (B, T)), tf.int32)}
    y = {"labels": tf.constant((rng.random((B, L)) < 0.05).astype(np.float32))}
    for _ in range(3):
        model.train_on_batch(x, y)
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's size across exec (pytest's, here).
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024
    print(json.dumps({"measured": peak - before, "estimate": step_memory_bytes(config, V, L, B, T)}))
""")


@pytest.mark.parametrize("shape", [(4, 500, 500, 5000), (4, 2000, 2000, 5000)])
def test_the_step_memory_estimate_matches_a_measured_step(shape):
    out = subprocess.run([sys.executable, "-c", PROBE, *map(str, shape)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["estimate"] == pytest.approx(figures["measured"], rel=0.2), figures


def test_chunked_attention_and_mixed_precision_lower_the_estimate():
    config = Config().apply_overrides(["model.attention_chunk=0"])  # every code at once
    full = step_memory_bytes(config, 51917, 8921, 16, 2500)
    assert step_memory_bytes(config, 51917, 8921, 16, 2500, "mixed_float16") < full
    chunked = Config().apply_overrides(["model.attention_chunk=1024"])
    recomputed = Config().apply_overrides(["model.attention_chunk=1024", "model.attention_recompute=true"])
    # chunks keep 2 of the 7 (batch, codes, tokens) tensors; with recomputation none
    assert step_memory_bytes(recomputed, 51917, 8921, 16, 2500) < step_memory_bytes(chunked, 51917, 8921, 16, 2500) \
        < 0.65 * full
    assert step_memory_bytes(recomputed, 51917, 8921, 16, 2500) < full / 2
    assert step_memory_bytes(config, 51917, 50, 16, 2500) < full / 5


def test_a_step_that_cannot_fit_stops_with_the_estimate_the_limit_and_what_would_fit():
    config = Config().apply_overrides(["data.batch_size=512", "data.max_tokens=4000"])
    with pytest.raises(MemoryBudgetError) as stop:
        check_step_memory(config, 51917, 8921)
    message = str(stop.value)
    assert "one training step needs about" in message and "host memory available is" in message
    assert "data.batch_size=" in message and "--skip-memory-check" in message
    assert check_step_memory(Config(), 5000, 50) > 0  # a small step passes


def test_jlan_train_refuses_before_writing_a_run(small_synthetic, tmp_path, capsys):
    from jlan_tf.cli.train import main

    code = main(["--dataset", str(small_synthetic), "--runs-dir", str(tmp_path / "runs"), "--name", "big",
                 "--set", "data.batch_size=4096", "--set", "data.max_tokens=100000", "--quiet"])
    assert code == 2 and not (tmp_path / "runs" / "big").exists()
    assert "one training step needs about" in capsys.readouterr().err
