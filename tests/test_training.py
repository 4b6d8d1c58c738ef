"""The training driver on a tiny synthetic corpus with a tiny model (seconds, not minutes)."""

import json

import keras
import numpy as np
import pytest
from scripts import load

from jlan_tf.config import Config
from jlan_tf.data import load_prepared
from jlan_tf.training import NonFiniteLoss, train


TINY = ["model.lstm_units=8", "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8",
        "data.batch_size=16", "train.warmup_epochs=1", "train.burn_in_epochs=0", "train.d_max=0.15"]
KEYS = {"micro_f1", "macro_f1", "macro_f1_per_label", "micro_precision", "micro_recall", "micro_auc", "macro_auc",
        "p_at_5", "p_at_8", "p_at_15", "r_at_5", "r_at_8", "r_at_15", "map", "micro_f1_tuned", "threshold"}


def tiny_config(*extra):
    return Config().apply_overrides(TINY + list(extra))


def test_train_writes_the_run_folder(small_synthetic, tmp_path):
    data = load_prepared(small_synthetic)
    result = train(data, tiny_config("train.epochs=2"), tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data_source"] == "synthetic" and len(metrics["epochs"]) == 2
    assert KEYS <= set(metrics["dev"]) and KEYS <= set(metrics["test"]) and "test_clean" in metrics
    assert metrics["test"] == pytest.approx(result["test"])
    scores = np.load(run / "predictions" / "test_scores.npy")
    assert scores.shape == (len(data.splits["test"]), 50)
    assert (run / "predictions" / "test_ids.txt").read_text().split() == data.splits["test"].ids
    assert (run / "model.keras").exists() and (run / "config.json").exists()
    assert list((run / "logs" / "validation").iterdir())  # TensorBoard dev curves
    train_logs = metrics["epochs"][-1]["train"]
    assert {"loss", "drop_rate", "dropped", "mask_precision", "mask_recall"} <= set(train_logs)
    assert train_logs["drop_rate"] == pytest.approx(0.15)


@pytest.mark.slow  # default suite within 4 minutes; CI runs it
def test_early_stopping_and_min_epochs(small_synthetic, tmp_path):
    data = load_prepared(small_synthetic)
    frozen = ["train.epochs=4", "train.patience=1", "train.learning_rate=0"]  # dev scores never improve
    stopped = train(data, tiny_config(*frozen), tmp_path / "a", verbose=0)
    assert len(stopped["epochs"]) == 2 and stopped["best_epoch"] == 1
    waited = train(data, tiny_config(*frozen, "train.min_epochs=3"), tmp_path / "b", verbose=0)
    assert len(waited["epochs"]) == 3 and waited["best_epoch"] == 1


def test_resume_equals_an_uninterrupted_run_and_seed_repeats(small_synthetic, tmp_path, caplog):
    data = load_prepared(small_synthetic)
    straight = train(data, tiny_config("train.epochs=2"), tmp_path / "a", verbose=0)
    again = train(data, tiny_config("train.epochs=2"), tmp_path / "b", verbose=0)
    first = train(data, tiny_config("train.epochs=1"), tmp_path / "c", verbose=0)  # "crashes" after epoch 1
    caplog.set_level("INFO", logger="jlan_tf.training")
    resumed = train(data, tiny_config("train.epochs=2"), tmp_path / "c", verbose=0)
    # It resumed rather than retrained: it says so, and epoch 1's record (wall time included) is untouched.
    assert any("resuming" in r.getMessage() and "after epoch 1" in r.getMessage() for r in caplog.records)
    assert resumed["epochs"][0] == first["epochs"][0] and len(resumed["epochs"]) == 2
    for other in (again, resumed):
        assert other["test"] == pytest.approx(straight["test"], abs=1e-6)
        assert [e["train"]["loss"] for e in other["epochs"]] == pytest.approx(
            [e["train"]["loss"] for e in straight["epochs"]], abs=1e-6)


@pytest.mark.slow  # default suite within 4 minutes; CI runs it
def test_non_finite_loss_stops_with_a_clear_error(small_synthetic, tmp_path):
    data = load_prepared(small_synthetic)
    with pytest.raises(NonFiniteLoss, match="NaN or infinite in epoch 1"):
        train(data, tiny_config("train.epochs=1", "train.learning_rate=inf"), tmp_path / "r", verbose=0)


@pytest.mark.slow  # default suite within 4 minutes; CI runs it
def test_select_on_map_and_clip_norm(small_synthetic, tmp_path):
    from jlan_tf.training import selection_key

    dev = {"micro_f1": 0.2, "map": 0.5, "micro_f1_tuned": 0.4}
    assert selection_key(dev, "map") == [0.5, 0.2] and selection_key(dev, "micro_f1") == [0.2, 0.5]
    assert selection_key(dev, "micro_f1_tuned") == [0.4, 0.5]
    with pytest.raises(ValueError, match="select_on"):
        selection_key(dev, "auc")
    data = load_prepared(small_synthetic)
    result = train(data, tiny_config("train.epochs=3", "train.select_on=map", "train.clip_norm=1.0"),
                   tmp_path / "r", verbose=0)
    maps = [e["dev"]["map"] for e in result["epochs"]]
    assert result["best_epoch"] == 1 + int(np.argmax(maps))  # the epoch of the best dev MAP
    assert {"micro_f1_tuned"} <= set(result["epochs"][0]["dev"])


def test_weight_decay_shrinks_weights_but_not_biases_or_word_vectors():
    from jlan_tf.config import TrainConfig
    from jlan_tf.training import make_optimizer

    kernel, bias = keras.Variable(np.ones((2, 2)), name="kernel"), keras.Variable(np.ones(2), name="label_bias")
    embeddings = keras.Variable(np.ones((3, 2)), name="embeddings")
    optimizer = make_optimizer(Config(train=TrainConfig(learning_rate=0.1, weight_decay=0.5)))
    optimizer.apply([keras.ops.zeros((2, 2)), keras.ops.zeros(2), keras.ops.zeros((3, 2))], [kernel, bias, embeddings])
    np.testing.assert_allclose(kernel.numpy(), 0.95)  # 1 - lr * decay, with no gradient
    np.testing.assert_allclose(bias.numpy(), 1.0)
    np.testing.assert_allclose(embeddings.numpy(), 1.0)
    assert make_optimizer(Config(train=TrainConfig(weight_decay=0))).weight_decay is None  # 0 = off
    # A resumed run rebuilds the optimizer from its config: the exemptions must survive that.
    reloaded = type(optimizer).from_config(optimizer.get_config())
    kernel, bias = keras.Variable(np.ones((2, 2)), name="kernel"), keras.Variable(np.ones(2), name="label_bias")
    reloaded.apply([keras.ops.zeros((2, 2)), keras.ops.zeros(2)], [kernel, bias])
    np.testing.assert_allclose(kernel.numpy(), 0.95)
    np.testing.assert_allclose(bias.numpy(), 1.0)


def test_ema_weights_are_kerass_moving_average_inside_the_block_and_raw_after():
    from jlan_tf.config import TrainConfig
    from jlan_tf.training import averaged_weights, make_optimizer

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=make_optimizer(Config(train=TrainConfig(learning_rate=0.1, ema_momentum=0.75))), loss="mse")
    x, y = np.ones((4, 2), np.float32), np.full((4, 1), 3.0, np.float32)
    seen = []
    for _ in range(3):
        model.train_on_batch(x, y)
        seen.append(model.get_weights()[0].copy())
    average = seen[0]  # Keras: the first step's weights, then avg = m * avg + (1 - m) * w
    for w in seen[1:]:
        average = 0.75 * average + 0.25 * w
    with averaged_weights(model):
        np.testing.assert_allclose(model.get_weights()[0], average, rtol=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], seen[-1])  # training goes on from the raw weights
    with pytest.raises(ValueError, match="ema_momentum"):
        make_optimizer(Config(train=TrainConfig(ema_momentum=1.0)))
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.compile(optimizer=make_optimizer(Config(train=TrainConfig())), loss="mse")
    plain.train_on_batch(x, y)
    before = plain.get_weights()[0].copy()
    with averaged_weights(plain):  # no average kept: nothing changes
        np.testing.assert_array_equal(plain.get_weights()[0], before)


@pytest.mark.slow
def test_ema_run_selects_and_keeps_the_averaged_weights(small_synthetic, tmp_path):
    from jlan_tf.training import averaged_weights

    data = load_prepared(small_synthetic)
    result = train(data, tiny_config("train.epochs=3", "train.ema_momentum=0.9"), tmp_path / "r", verbose=0)
    best = result["epochs"][result["best_epoch"] - 1]["dev"]
    # the final model (best.weights) scores on dev what the dev evaluation of its epoch saw
    assert result["dev"]["map"] == pytest.approx(best["map"], abs=1e-6)
    assert result["dev"]["micro_auc"] == pytest.approx(best["micro_auc"], abs=1e-6)
    # training goes on from the raw weights (fit's end puts the average in): the last checkpoint
    # holds them, beside the average in its optimizer
    last = keras.models.load_model(tmp_path / "r" / "checkpoints" / "last.keras")
    with averaged_weights(last):
        averaged = [w.copy() for w in last.get_weights()]
    assert any(not np.allclose(a, b) for a, b in zip(averaged, last.get_weights()))


def test_strategy_setting():
    from jlan_tf.distributed import make_strategy

    assert make_strategy("one").num_replicas_in_sync == 1 and make_strategy("auto").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="train.strategy"):
        make_strategy("tpu")


@pytest.mark.slow
def test_train_script_end_to_end(tmp_path, monkeypatch, capsys):
    train_script = load("train")

    monkeypatch.setenv("JLAN_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # the export lands in ./saved_models
    args = ["--dataset", "top50", "--runs-dir", str(tmp_path / "runs"), "--name", "t",
            "--set", "data.synthetic_docs=200", "--set", "train.epochs=1", "--set", "data.synthetic_mean_tokens=80"]
    args += [a for item in TINY for a in ("--set", item)]
    assert train_script.main(args) == 0
    out = capsys.readouterr().out
    assert "MIMIC-III not found" in out and "SYNTHETIC" in out and "test:" in out
    assert (tmp_path / "saved_models" / "t" / "1" / "saved_model.pb").exists()
    data = json.loads((tmp_path / "runs" / "t" / "data.json").read_text())
    assert data["data_source"] == "synthetic"
    config = json.loads((tmp_path / "runs" / "t" / "config.json").read_text())
    assert config["train"]["epochs"] == 1 and config["data"]["synthetic_docs"] == 200  # the user's values win
    assert train_script.main(["--resume", str(tmp_path / "runs" / "t"), "--no-export"]) == 0
    assert train_script.main(args) == 2  # the run exists
    assert "a run of that name exists" in capsys.readouterr().err


def test_train_script_errors(tmp_path, capsys):
    train_script = load("train")

    assert train_script.main(["--dataset", str(tmp_path / "nothing"), "--runs-dir", str(tmp_path)]) == 2
    assert "not a dataset name" in capsys.readouterr().err
    assert train_script.main(["--dataset", "synthetic", "--set", "train.epoch=1"]) == 2
    assert "unknown setting" in capsys.readouterr().err
