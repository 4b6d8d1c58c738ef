"""The experiment scripts at toy scale: they run the training driver and write their outputs."""

import json

import pytest
from scripts import load


TOY = ["data.synthetic_docs=120", "data.synthetic_mean_tokens=60", "train.epochs=2", "model.lstm_units=8",
       "model.attention_dim=8", "model.conv_filters=8", "model.output_hidden_dim=8"]


@pytest.mark.slow
def test_ablation_writes_table_and_figures(tmp_path, monkeypatch):
    ablation = load("ablation")

    monkeypatch.setenv("JLAN_DATA", str(tmp_path / "data"))
    args = ["--seeds", "2", "--variants", "L+S,J,J2+D*", "--out", str(tmp_path / "out")]
    args += [a for s in TOY for a in ("--set", s)]
    assert ablation.main(args) == 0
    table = (tmp_path / "out" / "table.md").read_text()
    assert all(f"| {v} | 2 |" in table for v in ("L+S", "J", "J2+D*"))
    paired = (tmp_path / "out" / "paired_dev.md").read_text()
    assert "against **L+S**" in paired and "| J2+D* | 2 | 2 |" in paired  # 2 runs, both at the 2-epoch limit
    assert (tmp_path / "out" / "paired_test.md").exists()
    for name in ("ablation.png", "convergence_fusion.png", "convergence_truncation.png", "table.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 100
    assert sorted(p.name for p in (tmp_path / "out" / "tensorboard").iterdir()) == ["J", "J2+D*", "L+S"]
    runs = sorted(p.name for p in (tmp_path / "out" / "runs").iterdir())
    assert len(runs) == 6 and "J2+D*-seed1" in runs
    assert ablation.main(args) == 0  # finished runs are reused, not retrained
    (tmp_path / "out" / "table.md").unlink()
    with pytest.raises(SystemExit) as done:  # one of several processes: no partial report over OUT's
        ablation.main(args + ["--only-seeds", "1"])
    assert done.value.code == 0 and not (tmp_path / "out" / "table.md").exists()
    assert ablation.main(args) == 0
    assert ablation.main(args + ["--report-only", "--reference", "J", "--report-to", str(tmp_path / "vs_j"),
                                 "--against-lr"]) == 0
    assert "against **J**" in (tmp_path / "vs_j" / "paired_test.md").read_text()
    assert "| J2+D* − LR | 2 | " in (tmp_path / "vs_j" / "against_lr_test.md").read_text()
    assert "against **L+S**" in (tmp_path / "out" / "paired_test.md").read_text()  # the default report stays
    with pytest.raises(SystemExit, match="not among the variants"):
        ablation.main(args + ["--report-only", "--reference", "J2"])


def test_every_ablation_variant_is_a_valid_config():
    ablation = load("ablation")
    from jlan_tf.config import Config

    configs = {name: Config().apply_overrides(overrides) for name, overrides in ablation.VARIANTS.items()}
    # The two ideas one at a time under the defaults: each variant differs from the next in one idea.
    neither, fusion, both = configs["L+S+EMA+DS"], configs["J2+EMA+DS"], configs["J2+D*+EMA+DS"]
    assert (neither.model.fusion, neither.train.d_max) == ("sum", 0.0)
    assert (fusion.model.fusion, fusion.study.fusion_scale, fusion.train.d_max) == ("joint", 2.0, 0.0)
    assert (both.model.fusion, both.train.d_max, both.study.drop_rank) == ("joint", 0.1, "relative")
    for c in (neither, fusion, both):
        assert c.model.output_description_scorer and c.train.ema_momentum == 0.99
    assert not configs["J2+D*+EMA"].model.output_description_scorer  # the recorded study's pin
    assert configs["J2+D*+EMA+DS+WD"].train.weight_decay == 1.0 and configs["J2+D*+EMA+DS"].train.weight_decay == 0
    # The two ideas under weight decay: the plain sum and BCE differ from the defaults in the two ideas only.
    plain, defaults = configs["L+S+EMA+DS+WD"], configs["J2+D*+EMA+DS+WD"]
    assert (plain.model.fusion, plain.train.d_max, plain.train.weight_decay) == ("sum", 0.0, 1.0)
    assert configs["J2+D*+EMA+DS+WD+LX"].model.lexical_output and not defaults.model.lexical_output
    learned = configs["J2+D*+EMA+DS+WD+LX"]
    assert (learned.study.lexical_init, learned.study.lexical_trainable) == ("zeros", True)  # as the study ran
    assert learned.model.lexical_words == 0  # the dense kernel the study had, whatever the defaults
    stacked = configs["J2+D*+EMA+DS+WD+LXLR"]
    assert stacked.model.lexical_output and (stacked.study.lexical_init, stacked.study.lexical_trainable) == ("lr", False)
    assert configs["L+S+EMA+DS+WD+LXLR"].model.lexical_words == 0
    import dataclasses

    plain_stacked = configs["L+S+EMA+DS+WD+LXLR"]
    assert plain_stacked.model == dataclasses.replace(configs["J2+D*+EMA+DS+WD+LXLR"].model, fusion="sum")
    assert (plain_stacked.train.d_max, plain_stacked.train.weight_decay) == (0.0, 1.0)
    negatives = configs["J2+D*+EMA+DS+WD+LXLR+N"]
    assert negatives == dataclasses.replace(configs["J2+D*+EMA+DS+WD+LXLR"], train=dataclasses.replace(
        configs["J2+D*+EMA+DS+WD+LXLR"].train, d_max_negatives=0.1))


def test_table_mean_and_std(tmp_path):
    from jlan_tf.studies.tables import write_table

    results = {"A": [{"test": {"micro_f1": 0.5}}, {"test": {"micro_f1": 0.7}}]}
    markdown = write_table(results, tmp_path, metrics=("micro_f1",))
    assert "| A | 2 | 0.600 ± 0.141 |" in markdown
    assert (tmp_path / "table.csv").read_text().splitlines()[1] == "A,2,0.600000,0.141421"


def test_paired_difference_and_its_interval(tmp_path):
    from jlan_tf.studies.tables import paired_difference, write_paired_table

    mean, low, high = paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    # differences 1, 2, 3: mean 2, sd 1, t(0.975, 2 df) = 4.3027 -> half-width 4.3027 / sqrt(3)
    assert mean == pytest.approx(2.0) and high - mean == pytest.approx(4.302653 / 3 ** 0.5, rel=1e-5)
    assert low == pytest.approx(2 * mean - high)
    run = lambda f1, epochs: {"test": {"micro_f1": f1}, "epochs": [{}] * epochs, "epoch_limit": 3}
    results = {"ref": [run(0.5, 3), run(0.6, 2)], "new": [run(0.6, 3), run(0.8, 3)]}
    markdown = write_paired_table(results, tmp_path, "ref", metrics=("micro_f1",))
    assert "| ref | 2 | 1 | 0.550 ± 0.071 |" in markdown  # one of the two runs reached the epoch limit
    assert "| new | 2 | 2 | 0.700 ± 0.141<br>+0.150 [" in markdown  # paired differences 0.1 and 0.2


def test_against_a_constant_is_the_one_sample_interval(tmp_path):
    from jlan_tf.studies.tables import paired_difference, write_against_constant

    results = {"new": [{"dev": {"map": v}} for v in (0.6, 0.7, 0.8)]}
    markdown = write_against_constant(results, tmp_path, "TF-IDF + LR", {"map": 0.5, "micro_f1_tuned": 0.25}, "dev",
                                      metrics=("map",))
    assert "micro-F1 at its dev-tuned threshold: 0.250" in markdown
    _, low, high = paired_difference([0.1, 0.2, 0.3], [0.0] * 3)
    assert "| TF-IDF + LR | 1 | 0.500 |" in markdown
    assert f"| new − LR | 3 | +0.200 [{low:+.3f}, {high:+.3f}] |" in markdown
    assert (tmp_path / "against_lr_dev.md").read_text() == markdown


def test_paired_tables_add_the_tuned_f1_where_every_run_has_it(tmp_path):
    from jlan_tf.studies.tables import TABLE_METRICS, TUNED, paired_metrics, write_against_constant

    block = {m: 0.5 for m in TABLE_METRICS}
    with_tuned = {"a": [{"test": {**block, TUNED: 0.6}}] * 2}
    assert paired_metrics(with_tuned, "test") == TABLE_METRICS + (TUNED,)
    assert paired_metrics({**with_tuned, "b": [{"test": block}]}, "test") == TABLE_METRICS  # one run lacks it
    assert paired_metrics(with_tuned, "test", values=block) == TABLE_METRICS  # the constant lacks it
    markdown = write_against_constant(with_tuned, tmp_path, "TF-IDF + LR", {**block, TUNED: 0.4})
    assert markdown.splitlines()[2].endswith(f"| {TUNED} |") and "+0.200 [+0.200, +0.200] |" in markdown


def test_tables_add_the_official_map_where_every_run_has_it(tmp_path):
    from jlan_tf.studies.tables import OFFICIAL, TABLE_METRICS, paired_metrics, write_table

    block = {m: 0.5 for m in TABLE_METRICS}
    runs = {"a": [{"test": {**block, OFFICIAL: 0.2}}, {"test": {**block, OFFICIAL: 0.4}}]}
    assert paired_metrics(runs, "test") == TABLE_METRICS + (OFFICIAL,)
    assert paired_metrics({**runs, "b": [{"test": block}]}, "test") == TABLE_METRICS
    markdown = write_table(runs, tmp_path)
    assert markdown.splitlines()[0].endswith(f"| {OFFICIAL} |") and markdown.splitlines()[2].endswith("| 0.300 ± 0.141 |")
    assert OFFICIAL not in write_table({"b": [{"test": block}]}, tmp_path)


def test_tensorboard_curves_are_the_mean_over_seeds(tmp_path):
    from jlan_tf.studies.tables import tensorboard_curves
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    def run(losses, f1s):
        return {"epochs": [{"train": {"loss": l}, "dev": {"micro_f1": f}} for l, f in zip(losses, f1s)]}

    # The second seed stopped early: the curve goes as far as every seed went.
    results = {"J+D": [run([0.4, 0.2, 0.1], [0.5, 0.7, 0.8]), run([0.6, 0.4], [0.3, 0.5])]}
    for _ in range(2):  # a rerun replaces the curves
        tensorboard_curves(results, tmp_path)
    events = EventAccumulator(str(tmp_path / "J+D"), size_guidance={"tensors": 0}).Reload()
    for tag, expected in (("convergence/training_loss", [0.5, 0.3]), ("convergence/dev_micro_f1", [0.4, 0.6])):
        assert [e.step for e in events.Tensors(tag)] == [1, 2]
        assert [float(make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)] == pytest.approx(expected)


def test_noise_study_needs_synthetic_data():
    noise_study = load("noise_study")

    with pytest.raises(SystemExit, match="needs the synthetic corpus"):
        noise_study.main(["--dataset", "codiesp"])


def test_noise_study_arms_differ_in_the_loss_only():
    import dataclasses

    noise_study = load("noise_study")
    from jlan_tf.config import Config

    configs = {name: Config().apply_overrides(o) for name, o in noise_study.ARMS.items()}
    bce, both, negatives = configs["BCE"], configs["D*+N"], configs["N"]
    assert (bce.train.d_max, bce.train.d_max_negatives) == (0.0, 0.0)
    assert (both.train.d_max, both.train.d_max_negatives) == (configs["D*"].train.d_max, 0.1)
    assert (negatives.train.d_max, negatives.train.d_max_negatives) == (0.0, 0.1)
    assert all(configs[name].model == bce.model for name in noise_study.LOSSES)
    assert dataclasses.replace(both.train, d_max_negatives=0.0) == configs["D*"].train


@pytest.mark.slow
def test_noise_study_pairs_each_loss_with_bce_at_its_noise_rate(tmp_path, monkeypatch):
    noise_study = load("noise_study")

    monkeypatch.setenv("JLAN_DATA", str(tmp_path / "data"))
    args = ["--seeds", "1", "--variants", "noise=0.2 BCE,noise=0.2 D*", "--out", str(tmp_path / "out")]
    args += [a for s in TOY + ["train.burn_in_epochs=0", "train.warmup_epochs=1"] for a in ("--set", s)]
    assert noise_study.main(args) == 0
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| noise=0.2 D* | 1 |" in table and "mask_precision" in table
    paired = (tmp_path / "out" / "noise=0.2" / "paired_test_clean.md").read_text()
    assert "against **BCE**" in paired and "| D* | 1 | 1 |" in paired
    config = json.loads((tmp_path / "out" / "runs" / "noise=0.2 D*-seed0" / "config.json").read_text())
    assert config["train"]["epochs"] == 2 and config["data"]["synthetic_noise"] == 0.2  # --set over the schedule
    metrics = json.loads((tmp_path / "out" / "runs" / "noise=0.2 D*-seed0" / "metrics.json").read_text())
    assert metrics["epochs"][-1]["train"]["dropped"] > 0  # D* dropped positives in its last epoch


def test_word2vec_epochs_report(small_synthetic, capsys):
    import re

    word2vec_epochs = load("word2vec_epochs")

    assert word2vec_epochs.main([str(small_synthetic), "--epochs", "1", "20", "--word", "fever"]) == 0
    lines = capsys.readouterr().out.splitlines()
    norms = [float(re.search(r"median norm ([\d.]+)", line).group(1)) for line in lines[1:]]
    assert len(norms) == 2 and norms[1] > 2 * norms[0]  # more epochs move the vectors away from their start


@pytest.mark.slow
def test_evidence_quality_scores_every_ranking(tmp_path):
    evidence_quality = load("evidence_quality")
    train = load("train")
    from test_codiesp import _fake_spanish_release

    from jlan_tf.data.sources import prepare_codiesp

    root = _fake_spanish_release(tmp_path / "release")
    prepared = prepare_codiesp(tmp_path / "p", root, lang="es", embedding_dim=8, word2vec_epochs=1)
    toy = [s for s in TOY if not s.startswith("data.")]
    argv = ["--dataset", str(prepared), "--runs-dir", str(tmp_path / "runs"), "--name", "es", "--no-export"]
    assert train.main(argv + [a for s in toy for a in ("--set", s)]) == 0
    out = tmp_path / "out"
    assert evidence_quality.main(["--run", str(tmp_path / "runs" / "es"), "--pairs", "gold", "--out", str(out),
                                  "--texts", str(root / "test" / "text_files")]) == 0
    table = (out / "table.md").read_text()
    assert "6 scored (note, code) pairs per run" in table  # 2 notes x 3 codes, all with a span
    for ranking in evidence_quality.RANKERS:
        assert f"| {ranking} | " in table
    result = json.loads((out / "results.json").read_text())
    # "Dolor abdominal": gold = token 8 of 10; a random ranking puts it in the top 3 with p = 3/10.
    assert 0.0 <= result["runs"]["random"]["hit_at_3"][0] <= 1.0
    assert (out / "evidence_quality.png").stat().st_size > 1000
    page = (tmp_path / "runs" / "es" / "evidence_examples.html").read_text()
    assert "text-decoration:underline" in page

    # A run trained with evidence supervision (the CLI path), compared seed by seed with the first.
    spans = ["--name", "es-spans", "--set", "train.evidence_weight=1"]
    assert train.main(argv[:-3] + spans + ["--no-export"] + [a for s in toy for a in ("--set", s)]) == 0
    metrics = json.loads((tmp_path / "runs" / "es-spans" / "metrics.json").read_text())
    assert "evidence_loss" in metrics["epochs"][-1]["train"]
    runs = ["--run", str(tmp_path / "runs" / "es-spans"), "--against", str(tmp_path / "runs" / "es")]
    assert evidence_quality.main(runs + ["--pairs", "gold", "--no-extra-passes", "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "Paired by seed, --run minus --against (1 seeds" in table
    assert "| fused | " in table and "| occlusion | " not in table and "| input | " not in table
    paired = json.loads((out / "results.json").read_text())["paired_by_seed"]
    assert set(paired) >= {"fused precision_at_3", "contribution average_precision", "coding map"}
    with pytest.raises(SystemExit):
        evidence_quality.main(runs + ["--against", str(tmp_path / "runs" / "es"), "--out", str(out)])


@pytest.mark.slow
def test_compare_runs_every_model_and_lr(tmp_path, monkeypatch):
    compare = load("compare")

    monkeypatch.setenv("JLAN_DATA", str(tmp_path / "data"))
    args = ["--seeds", "1", "--out", str(tmp_path / "out")]
    args += [a for s in TOY + ["model.kernel_size=3"] for a in ("--set", s)]
    assert compare.main(args) == 0
    table = (tmp_path / "out" / "table.md").read_text()
    for name in ("JLAN", "CAML", "MultiResCNN", "LAAT", "JointLAAT", "TF-IDF + LR"):
        assert f"| {name} | 1 | " in table
    assert "train_minutes" in table
    configs = {p.name: json.loads((p / "config.json").read_text()) for p in (tmp_path / "out" / "runs").iterdir()}
    assert configs["CAML-seed0"]["model"]["arch"] == "caml" and configs["LAAT-seed0"]["model"]["arch"] == "laat"
    assert configs["JointLAAT-seed0"]["model"]["arch"] == "jointlaat"
    assert configs["CAML-seed0"]["train"]["learning_rate"] == 1e-4  # the preset's, not JLAN's
    assert (tmp_path / "out" / "compare.png").stat().st_size > 1000
    # A subset without JLAN (e.g. baselines run in another process): a table, no paired tables.
    assert compare.main(args + ["--report-only", "--variants", "LAAT,CAML", "--report-to", str(tmp_path / "sub")]) == 0
    assert "| LAAT | 1 | " in (tmp_path / "sub" / "table.md").read_text()
    assert not (tmp_path / "sub" / "paired_dev.md").exists()


def test_label_bands_table():
    import numpy as np

    band_table = load("label_bands").band_table

    counts = np.array([9, 6, 5, 3, 1, 0] + [7] * 50)  # 56 codes: 50+ frequent, two rare, one unseen
    rng = np.random.default_rng(0)
    y = (rng.random((12, 56)) < 0.2).astype(np.uint8)
    y[0, 4] = y[1, 5] = y[2, 3] = 1
    table = band_table(y, {"perfect": y + 0.01 * rng.random(y.shape), "reversed": 1.0 - y}, counts)
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]
    rows = {cells(line)[0]: cells(line) for line in table.splitlines() if line.startswith("| ")}
    assert rows["1-4 training notes"][1] == "2" and rows["unseen in training"][1] == "1"
    assert rows["5+ training notes"][1:5] == ["53", "0.90", "1.000", "1.000"]  # perfect: MAP and macro-AUC 1
    assert rows["5+ training notes"][6] == "0.000"                              # reversed: macro-AUC 0
    assert rows["perfect"][2:4] == ["1.000", "1.000"] and float(rows["perfect"][4]) < 1.0  # rare ranked last: lower

    few = band_table(y[:, :6], {"perfect": y[:, :6] + 0.0}, counts[:6])  # 6 codes: thirds by training frequency
    names = [cells(line)[0] for line in few.splitlines() if line.startswith("| ") and "third" in line]
    assert names == ["rarest third (0-1 notes)", "middle third (3-5 notes)", "most frequent third (6-9 notes)"]


def test_seed_ensemble_table_averages_the_runs_scores():
    import numpy as np

    ensemble_table = load("seed_ensemble").ensemble_table

    y = np.array([[1, 1], [1, 1], [0, 0], [0, 0]])
    a = np.array([[1.0, 1.0], [0.4, 0.4], [0.5, 0.5], [0.0, 0.0]])  # each run ranks 3 of 4 pairs right
    b = np.array([[0.4, 0.4], [1.0, 1.0], [0.0, 0.0], [0.5, 0.5]])
    table = ensemble_table(y, [a, b], {"reversed": 1.0 - y, "like a": a})
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]
    rows = {cells(line)[0]: cells(line) for line in table.splitlines() if line.startswith("| ")}
    assert rows["one run (mean ± sd of 2)"][2] == "0.750 ± 0.000"  # macro-AUC
    assert rows["mean of the first 2 runs"][2] == "1.000"  # their mean ranks every pair right
    assert rows["reversed"][2] == "0.000"
    # With a reference: (run + reference) / 2 for each run, and (mean of the runs + reference) / 2.
    assert rows["one run and like a, mean of the two scores (mean ± sd of 2)"][2] == "0.875 ± 0.177"
    assert rows["mean of all 2 runs and like a (half each)"][2] == "1.000"
    assert rows["mean of all 2 runs and reversed (half each)"][2] == "0.000"


def test_lr_reports_the_size_of_its_weights(small_synthetic):
    import numpy as np

    from jlan_tf.data import load_prepared
    from jlan_tf.linear import FittedLR
    from jlan_tf.studies.lr_baseline import fit_and_score

    data = load_prepared(small_synthetic)
    result = fit_and_score(data)
    fitted = FittedLR(data)
    largest = np.abs(fitted.coefficients()).max(axis=1)
    assert result["largest_weight_median"] == pytest.approx(np.median(largest[fitted.present]))
    assert result["largest_weight_median"] > 0


def test_only_seeds_trains_and_writes_no_partial_report(monkeypatch):
    import argparse

    from jlan_tf.studies import runs as _common

    trained = []
    monkeypatch.setattr(_common, "run", lambda args, name, overrides, seed: trained.append((name, seed)) or {})
    args = argparse.Namespace(variants=None, only_seeds="1,3", seeds=5, report_only=False)
    with pytest.raises(SystemExit) as done:  # every script (noise study, compare) stops before its tables
        _common.run_all(args, {"A": [], "B": []})
    assert done.value.code == 0 and trained == [("A", 1), ("B", 1), ("A", 3), ("B", 3)]
    args.report_only = True
    assert _common.run_all(args, {"A": []}) == {"A": [{}, {}]}


def test_description_coverage_counts_the_description_words_the_vocabulary_knows(tmp_path):
    from jlan_tf.data import Document, write_prepared

    train = [Document(f"t{i}", f"fever and cough {i}", ["a", "b"]) for i in range(4)]
    folder = write_prepared(tmp_path / "p", source="unit", settings={}, splits={"train": train, "dev": [], "test": []},
                            descriptions={"a": "Fever, cough", "b": "Fiebre y tos"}, embedding_dim=4,
                            word2vec_epochs=1)
    figures = load("description_coverage").coverage(str(folder))
    # "fever" and "cough" are vocabulary words, "fiebre", "y" and "tos" are not: 2 tokens of 5, 1 code of 2.
    assert figures["labels"] == 2
    assert figures["description_tokens_known"] == pytest.approx(2 / 5)
    assert figures["labels_with_a_known_word"] == pytest.approx(1 / 2)
