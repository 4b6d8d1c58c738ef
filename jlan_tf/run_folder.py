"""The run folder: one home for its layout. Everything that reads or writes a run goes
through ``RunFolder``.

    runs/<name>/
        config.json          the resolved config (``Config.save``)
        data.json            which data: {"data_source", "path", "note"}
        state.json           the training state after the last finished epoch (resume)
        checkpoints/         last.keras (model + optimizer, after every epoch), best.weights.h5
        logs/                TensorBoard
        metrics.json         {"data_source", "best_epoch", "dev", "test", ["test_clean"], "epochs"}
        predictions/         {dev,test}_{scores,true}.npy, {dev,test}_ids.txt, labels.txt
        model.keras          the best model
        vocab.txt, labels.tsv, tokenizer.json   what the export needs (no prepared folder)

JSON files are written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXPORT_ASSETS = ("model.keras", "vocab.txt", "labels.tsv", "tokenizer.json")


def write_json(path: Path, value) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def name(self) -> str:
        return self.path.name

    config = property(lambda self: self.path / "config.json")
    data_info = property(lambda self: self.path / "data.json")
    state = property(lambda self: self.path / "state.json")
    metrics = property(lambda self: self.path / "metrics.json")
    model = property(lambda self: self.path / "model.keras")
    logs = property(lambda self: self.path / "logs")
    checkpoints = property(lambda self: self.path / "checkpoints")
    last_checkpoint = property(lambda self: self.path / "checkpoints" / "last.keras")
    best_weights = property(lambda self: self.path / "checkpoints" / "best.weights.h5")
    vocab = property(lambda self: self.path / "vocab.txt")
    labels = property(lambda self: self.path / "labels.tsv")
    tokenizer = property(lambda self: self.path / "tokenizer.json")
    predictions = property(lambda self: self.path / "predictions")

    def create(self) -> "RunFolder":
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        return self

    def read(self, name: str) -> dict:
        """One of the run's JSON files, by name (``config``, ``data``, ``state``, ``metrics``, ``tokenizer``)."""
        return json.loads((self.path / f"{name}.json").read_text())

    def write(self, name: str, value) -> None:
        write_json(self.path / f"{name}.json", value)

    def write_data_info(self, data_source: str, data_path: Path, note: str = "") -> None:
        self.write("data", {"data_source": data_source, "path": str(Path(data_path).resolve()), "note": note})

    def save_checkpoint(self, model) -> None:
        """``last.keras``, written aside and renamed: a crash mid-save leaves the old one whole."""
        tmp = self.last_checkpoint.with_name("last.tmp.keras")
        model.save(tmp)
        tmp.replace(self.last_checkpoint)

    def write_predictions(self, split: str, scores: np.ndarray, y_true: np.ndarray, ids: list[str]) -> None:
        folder = self.predictions
        folder.mkdir(exist_ok=True)
        np.save(folder / f"{split}_scores.npy", scores.astype(np.float32))
        np.save(folder / f"{split}_true.npy", y_true.astype(np.uint8))
        (folder / f"{split}_ids.txt").write_text("\n".join(ids) + "\n")

    def read_scores(self, split: str, ids: list[str]) -> np.ndarray:
        """The saved scores of a split, checked to be in the order of ``ids`` (the prepared data's)."""
        saved = (self.predictions / f"{split}_ids.txt").read_text().split()
        if saved != list(ids):
            raise ValueError(f"{self.path}: its {split} predictions are not in the prepared data's order")
        return np.load(self.predictions / f"{split}_scores.npy")

    def write_export_assets(self, model, prepared_path: Path, codes: list[str], tokenization: dict) -> None:
        """The best model and what serving needs beside it, so export needs no prepared folder."""
        self.predictions.mkdir(exist_ok=True)
        (self.predictions / "labels.txt").write_text("\n".join(codes) + "\n")
        model.save(self.model)
        for name in ("vocab.txt", "labels.tsv"):
            shutil.copy(Path(prepared_path) / name, self.path / name)
        write_json(self.tokenizer, tokenization)

    def missing_export_assets(self) -> list[Path]:
        return [self.path / name for name in EXPORT_ASSETS if not (self.path / name).exists()]
