"""Run folders written by an earlier jlan_tf (tests/fixtures/old_runs, saved before the config
had a version) still load, evaluate to the metrics they recorded, export and resume."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from jlan_tf import metrics as metric_fns
from jlan_tf.config import Config
from jlan_tf.data import load_prepared
from jlan_tf.run_folder import RunFolder
from jlan_tf.training import predict_split

OLD_RUNS = Path(__file__).resolve().parent / "fixtures" / "old_runs"
RUNS = ["default", "paper", "before_scorer"]


@pytest.fixture(scope="module")
def old_data():
    return load_prepared(OLD_RUNS / "prepared")


@pytest.mark.parametrize("name", RUNS)
def test_an_old_run_evaluates_to_the_metrics_it_recorded(name, old_data):
    run = RunFolder(OLD_RUNS / name)
    Config.load(run.config)  # loads (upgraded)
    model = keras.models.load_model(run.model)
    recorded = run.read("metrics")
    dev_scores, dev_true = predict_split(model, old_data, "dev", 32)
    scores, y_true = predict_split(model, old_data, "test", 32)
    np.testing.assert_allclose(scores, np.load(run.predictions / "test_scores.npy"), atol=1e-5)
    now = metric_fns.all_metrics(y_true, scores, metric_fns.tune_threshold(dev_true, dev_scores))
    for key in ("micro_f1", "macro_auc", "map", "p_at_5"):
        assert now[key] == pytest.approx(recorded["test"][key], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_an_old_run_exports_and_resumes(name, tmp_path):
    from jlan_tf.cli.train import resume_training
    from jlan_tf.serving import export_run

    shutil.copytree(OLD_RUNS / name, tmp_path / name)
    run = RunFolder(tmp_path / name)
    exported = export_run(run.path, tmp_path / "export", version=1)
    # The network only: the truncation loss's settings the old model.keras carried are gone.
    assert b"drop_rank" not in (exported / "saved_model.pb").read_bytes()
    assert "d_max" not in keras.models.load_model(run.model).get_config()
    config = json.loads(run.config.read_text())
    config["train"]["epochs"] = 2
    run.config.write_text(json.dumps(config))
    run.write_data_info("synthetic", OLD_RUNS / "prepared")
    result = resume_training(run.path, verbose=0)
    assert len(result["epochs"]) == 2 and np.isfinite(result["epochs"][-1]["train"]["loss"])
