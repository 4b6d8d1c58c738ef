import json

import numpy as np
import pytest

from jlan_tf.studies.zero_shot import description_scores, gold_ranks, recall_report, unique_codes
from scripts import load


def test_gold_ranks_break_ties_by_label_order_and_mark_codes_outside():
    scores = np.array([[0.5, 0.9, 0.5], [0.1, 0.2, 0.3]])
    ranks = gold_ranks(scores, ["a", "b", "c"], [["c", "a", "x"], ["a"]])
    assert ranks == [[3, 2, None], [3]]


def test_recall_report_by_hand():
    gold = [["c", "a", "x"], ["a"]]
    report = recall_report([[3, 2, None], [3]], gold, seen={"a"}, num_codes=3, ks=(1, 3))
    assert report["unseen"] == {"pairs": 2, "notes": 1, "outside_label_set": 1,
                                "recall_at_1": 0.0, "recall_at_3": 0.5, "median_rank": 3.0}
    assert report["seen"] == {"pairs": 2, "notes": 2, "outside_label_set": 0,
                              "recall_at_1": 0.0, "recall_at_3": 1.0, "median_rank": 2.5}
    assert report["chance_at_k"] == {"1": 1 / 3, "3": 1.0}
    assert unique_codes([["a", "b", "a"]]) == [["a", "b"]]


def test_description_scores_match_the_right_description():
    scores = description_scores(["Chronic asthma, attack at night.", "Broken left femur after a fall."],
                                ["Asthma", "Fracture of femur", "Otitis media", ""],
                                ["patient with asthma", "a fall at home", "fever"])
    assert scores.shape == (2, 4) and scores.dtype == np.float32
    assert scores[0].argmax() == 0 and scores[1].argmax() == 1
    assert np.all(scores[:, 2:] == 0) and np.all((scores >= 0) & (scores <= 1 + 1e-6))


def test_the_script_finds_a_code_no_training_note_has(tmp_path, capsys):
    root = tmp_path / "release"
    notes = {"train": [("t0", "Pain and fever.", "r52")], "dev": [("d0", "Fever.", "r50.9")],
             "test": [("x0", "Cholera with diarrhoea, and pain.", "a00.9\nx0\tr52")]}
    for split, docs in notes.items():
        (root / split / "text_files_en").mkdir(parents=True)
        for doc, text, _ in docs:
            (root / split / "text_files_en" / f"{doc}.txt").write_text(text)
        (root / split / f"{split}D.tsv").write_text("".join(f"{doc}\t{codes}\n" for doc, _, codes in docs))
    out = tmp_path / "zero_shot.json"
    assert load("zero_shot").main(["--root", str(root), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["codes"] > 90_000 and report["settings"]["test_notes"] == 1
    assert report["unseen"]["pairs"] == 1 and report["seen"]["pairs"] == 1
    assert report["unseen"]["median_rank"] <= 100 and report["unseen"]["recall_at_100"] == 1.0
    assert 0 < report["codiesp_map"] <= 1
    assert "Cholera" not in capsys.readouterr().out  # no note text in what it prints


def test_the_script_names_a_bad_release(tmp_path, capsys):
    assert load("zero_shot").main(["--root", str(tmp_path)]) == 2
    assert "not a CodiEsp release" in capsys.readouterr().err
