import numpy as np
import pytest
from sklearn.metrics import auc, roc_curve

from jlan_tf import metrics

Y = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0]], float)
S = np.array([[0.9, 0.2, 0.4, 0.6], [0.1, 0.8, 0.3, 0.2], [0.7, 0.3, 0.55, 0.1]])


def test_hand_computed_values():
    m = metrics.all_metrics(Y, S)
    assert m["micro_precision"] == pytest.approx(3 / 5) and m["micro_recall"] == pytest.approx(3 / 5)
    assert m["micro_f1"] == pytest.approx(0.6)
    assert m["macro_precision"] == pytest.approx(0.5) and m["macro_recall"] == pytest.approx(0.375)
    assert m["macro_f1"] == pytest.approx(2 * 0.5 * 0.375 / 0.875)
    assert m["macro_f1_per_label"] == pytest.approx(5 / 9)  # labels 0, 1, 2 are present; F1 1, 2/3, 0
    assert metrics.precision_at_k(Y, S, 2) == pytest.approx(0.5)
    assert metrics.recall_at_k(Y, S, 2) == pytest.approx(2 / 3)
    assert m["map"] == pytest.approx(8 / 9)
    assert m["macro_auc"] == pytest.approx(5 / 6)  # label 3 has no positive: left out
    assert "micro_f1_tuned" not in m


def test_precision_at_k_divides_by_k_as_caml():
    # CAML divides by len(top k) which is min(k, labels): with 4 labels, P@5 divides by 4.
    assert metrics.precision_at_k(Y, S, 5) == pytest.approx(np.mean([2 / 4, 1 / 4, 2 / 4]))


def test_edges():
    none_predicted = np.zeros_like(S)
    m = metrics.all_metrics(Y, none_predicted + 0.1)
    assert m["micro_precision"] == 0.0 and m["micro_f1"] == 0.0 and m["macro_f1"] == 0.0
    assert metrics.binarize(np.array([0.5, 0.49999]))[0] == 1.0  # 0.5 is a positive
    y = np.array([[0, 0], [1, 0]], float)
    assert metrics.recall_at_k(y, np.array([[0.3, 0.2], [0.9, 0.1]]), 1) == pytest.approx(0.5)  # no-code doc: 0
    with pytest.raises(ValueError, match="one shape"):
        metrics.all_metrics(Y, S[:, :3])


def test_threshold_tuning():
    threshold = metrics.tune_threshold(Y, S)
    assert 0.0 < threshold < 1.0
    best = metrics.micro_scores(Y, metrics.binarize(S, threshold))[2]
    assert best >= max(metrics.micro_scores(Y, metrics.binarize(S, t))[2] for t in np.arange(0.01, 1, 0.01)) - 1e-12
    assert metrics.all_metrics(Y, S, threshold=threshold)["micro_f1_tuned"] == pytest.approx(best)


def test_document_means_split_into_equal_halves():
    rng = np.random.default_rng(0)
    y = (rng.random((40, 12)) < 0.3).astype(float)
    s = rng.random((40, 12))
    y[:, 0] = 1  # every document has a code, so MAP is a plain mean over documents too
    for fn in (lambda a, b: metrics.precision_at_k(a, b, 5), lambda a, b: metrics.recall_at_k(a, b, 5),
               metrics.mean_average_precision):
        assert fn(y, s) == pytest.approx((fn(y[:20], s[:20]) + fn(y[20:], s[20:])) / 2)


# CAML's evaluation.py, transcribed loop by loop as the reference.
def caml_reference(y, yhat_raw, k):
    yhat = (yhat_raw >= 0.5).astype(float)
    inter = lambda a, b, axis: np.logical_and(a, b).sum(axis=axis).astype(float)
    macro_p = np.mean(inter(yhat, y, 0) / (yhat.sum(axis=0) + 1e-10))
    macro_r = np.mean(inter(yhat, y, 0) / (y.sum(axis=0) + 1e-10))
    macro_f = 0.0 if macro_p + macro_r == 0 else 2 * macro_p * macro_r / (macro_p + macro_r)
    ymic, yhatmic = y.ravel(), yhat.ravel()
    micro_p = inter(yhatmic, ymic, 0) / yhatmic.sum(axis=0)
    micro_r = inter(yhatmic, ymic, 0) / ymic.sum(axis=0)
    micro_f = 2 * micro_p * micro_r / (micro_p + micro_r)
    topk = np.argsort(yhat_raw)[:, ::-1][:, :k]
    rec = np.array([y[i, tk].sum() / float(y[i, :].sum()) for i, tk in enumerate(topk)])
    rec[np.isnan(rec)] = 0.0
    prec = np.mean([y[i, tk].sum() / float(len(tk)) for i, tk in enumerate(topk)])
    aucs = []
    for i in range(y.shape[1]):
        if y[:, i].sum() > 0:
            fpr, tpr, _ = roc_curve(y[:, i], yhat_raw[:, i])
            if len(fpr) > 1 and len(tpr) > 1:
                score = auc(fpr, tpr)
                if not np.isnan(score):
                    aucs.append(score)
    fpr, tpr, _ = roc_curve(ymic, yhat_raw.ravel())
    return {"macro_precision": macro_p, "macro_recall": macro_r, "macro_f1": macro_f, "micro_precision": micro_p,
            "micro_recall": micro_r, "micro_f1": micro_f, f"r_at_{k}": np.mean(rec), f"p_at_{k}": prec,
            "macro_auc": np.mean(aucs), "micro_auc": auc(fpr, tpr)}


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_caml_evaluation(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((60, 20)) < 0.15).astype(float)
    y[:, 3] = 0          # a label nobody has
    y[:, 4] = 1          # a label everybody has (no negative: no AUC)
    y[7] = 0             # a document with no code
    s = rng.random((60, 20)) ** 2
    ours = metrics.all_metrics(y, s)
    for k in (5, 8, 15):
        for key, value in caml_reference(y, s, k).items():
            assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_evaluate_cli(tmp_path, capsys):
    import json

    from jlan_tf.cli import evaluate

    np.save(tmp_path / "y.npy", Y)
    np.save(tmp_path / "s.npy", S)
    assert evaluate.main(["--y-true", str(tmp_path / "y.npy"), "--y-score", str(tmp_path / "s.npy"),
                          "--threshold", "0.35", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["micro_f1"] == pytest.approx(0.6) and out["threshold"] == 0.35
    np.save(tmp_path / "bad.npy", S[:, :2])
    assert evaluate.main(["--y-true", str(tmp_path / "y.npy"), "--y-score", str(tmp_path / "bad.npy")]) == 2
    assert "shapes differ" in capsys.readouterr().err


def test_evidence_scores_hand_computed():
    # 6 tokens; gold = positions 1 and 4; ranking by weight: 2, 4, 0, 1, 5, 3.
    weights = np.array([0.15, 0.1, 0.3, 0.0, 0.2, 0.05])
    s = metrics.evidence_scores(weights, np.array([4, 1, 4]))  # duplicates count once
    assert s["hit_at_1"] == 0.0 and s["hit_at_3"] == 1.0 and s["hit_at_5"] == 1.0
    assert s["precision_at_1"] == 0.0 and s["precision_at_3"] == pytest.approx(1 / 3)
    assert s["precision_at_5"] == pytest.approx(2 / 5)
    assert s["recall_at_3"] == pytest.approx(1 / 2) and s["recall_at_5"] == 1.0
    assert s["average_precision"] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_evidence_scores_ties_and_bad_gold():
    # All weights equal: the ranking is the token order, so gold at 0 is a hit at 1.
    assert metrics.evidence_scores(np.ones(4), np.array([0]))["hit_at_1"] == 1.0
    assert metrics.evidence_scores(np.ones(4), np.array([3]))["average_precision"] == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="gold positions"):
        metrics.evidence_scores(np.ones(4), np.array([4]))
    with pytest.raises(ValueError, match="gold positions"):
        metrics.evidence_scores(np.ones(4), np.array([], int))


def test_codiesp_map_by_hand():
    from jlan_tf.metrics import codiesp_average_precision, codiesp_map, ranked_codes

    # two of three gold codes found, at ranks 1 and 3; the third (outside the list) counts in the divisor
    assert codiesp_average_precision({"A", "C", "D"}, ["A", "B", "C"]) == pytest.approx((1 / 1 + 2 / 3) / 3)
    # no gold code in the label set: 0, not left out
    assert codiesp_average_precision({"X"}, ["A", "B"]) == 0.0
    # duplicates and case: "a" repeats "A" and takes no rank; the gold's "B"/"b" are one code
    assert codiesp_average_precision(["B", "b"], ["A", "a", "B"]) == pytest.approx(1 / 2)
    # the cut: the gold code at rank 3 counts with a cut of 3, not of 2
    assert codiesp_average_precision({"Z"}, ["A", "B", "Z"], cut=3) == pytest.approx(1 / 3)
    assert codiesp_average_precision({"Z"}, ["A", "B", "Z"], cut=2) == 0.0
    # ties: label order decides (A before B)
    ranked = ranked_codes(np.array([[0.5, 0.5, 0.2], [0.1, 0.3, 0.2]]), ["A", "B", "C"])
    assert ranked == [["A", "B", "C"], ["B", "C", "A"]]
    assert codiesp_average_precision({"B"}, ranked[0]) == pytest.approx(0.5)
    assert ranked_codes(np.array([[0.1, 0.3, 0.2]]), ["A", "B", "C"], cut=2) == [["B", "C"]]
    # the mean runs over the notes of the predictions that have gold codes: n2 is left out, n3 has no gold
    gold = {"n1": ["A"], "n2": ["B"], "n3": []}
    assert codiesp_map(gold, {"n1": ["A"], "n3": ["A"]}) == 1.0
    assert codiesp_map(gold, {"n1": ["B", "A"], "n2": ["A"]}) == pytest.approx((0.5 + 0.0) / 2)
    # a top-50 style label set: the project's map (in-label gold only) reads high, the task's does not
    y_true, y_score = np.array([[1, 0]]), np.array([[0.9, 0.1]])
    from jlan_tf.metrics import mean_average_precision

    assert mean_average_precision(y_true, y_score) == 1.0
    assert codiesp_map({"n": ["A", "Q1", "Q2", "Q3"]}, {"n": ranked_codes(y_score, ["A", "B"])[0]}) == 0.25


def test_evaluate_cli_writes_the_codiesp_prediction_file(tmp_path, capsys):
    import json

    from jlan_tf.cli import evaluate

    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    (run / "labels.tsv").write_text("r50.9\tFever\t3\nr52\tPain\t2\nk21.9\tReflux\t1\n")
    np.save(run / "predictions" / "test_scores.npy", np.array([[0.2, 0.9, 0.1], [0.7, 0.1, 0.3]], np.float32))
    (run / "predictions" / "test_ids.txt").write_text("n1\nn2\n")
    gold = tmp_path / "testD.tsv"
    gold.write_text("n1\tr52\nn1\tz99.9\nn2\tk21.9\n")  # z99.9: outside the label set
    out = tmp_path / "pred.tsv"
    assert evaluate.main(["--run", str(run), "--codiesp-file", str(out), "--gold", str(gold), "--json"]) == 0
    assert out.read_text().splitlines() == ["n1\tr52", "n1\tr50.9", "n1\tk21.9", "n2\tr50.9", "n2\tk21.9", "n2\tr52"]
    result = json.loads(capsys.readouterr().out)
    assert result["notes"] == 2 and result["codiesp_map"] == pytest.approx(((1 / 1) / 2 + (1 / 2) / 1) / 2)
    assert evaluate.main(["--run", str(tmp_path / "nothing"), "--codiesp-file", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
