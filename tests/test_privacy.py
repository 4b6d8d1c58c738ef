"""Note text never reaches the logs: a whole prepare -> train -> export run, every log record
captured at DEBUG level, and the secret written into the notes appears in none of them."""

import json
import logging

from jlan_tf.config import Config
from jlan_tf.data import load_prepared
from jlan_tf.data.sources import prepare_jsonl
from jlan_tf.serving import export_run
from jlan_tf.training import train

SECRET = "zqxsecretpatientname"


def test_no_note_text_in_any_log_record(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    words = ["fever", "cough", "pneumonia", "heart", "failure", "kidney", "injury", "rash"]
    for split, n in (("train", 40), ("dev", 10), ("test", 10)):
        with open(tmp_path / f"{split}.jsonl", "w") as f:
            for i in range(n):
                text = " ".join(words[(i + j) % len(words)] for j in range(12)) + f" {SECRET} " + "x" * 3000
                f.write(json.dumps({"id": f"{split}{i}", "text": text, "codes": [f"C{i % 3}"]}) + "\n")
    prepared = prepare_jsonl(tmp_path / "prepared", tmp_path / "train.jsonl", tmp_path / "dev.jsonl",
                             tmp_path / "test.jsonl", embedding_dim=8, word2vec_epochs=1)
    config = Config().apply_overrides(["model.lstm_units=4", "model.attention_dim=4", "model.conv_filters=4",
                                       "model.output_hidden_dim=4", "train.epochs=1"])
    train(load_prepared(prepared), config, tmp_path / "run", verbose=0)
    export_run(tmp_path / "run", out=tmp_path / "saved")
    captured = capsys.readouterr()
    assert caplog.records  # the run did log
    assert SECRET not in caplog.text and SECRET not in captured.out + captured.err
    assert "fever cough" not in caplog.text
