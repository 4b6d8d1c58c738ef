"""Data-layer benchmark: `jlan-prepare mimic3` notes/s on a MIMIC-sized corpus written in
MIMIC-III's CSV format, and batches/s of the tf.data training pipeline.

    python experiments/bench_data.py                 # 50,000 notes of ~1,500 words
    python experiments/bench_data.py --notes 5000    # quicker

Prints one line per figure; --json prints them as one JSON object as well.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from jlan_tf.data import load_prepared, synthetic  # noqa: E402
from jlan_tf.data.mimic3 import MIMIC3_TOP50  # noqa: E402
from jlan_tf.data.sources import prepare_mimic3  # noqa: E402


def write_corpus(folder: Path, notes: int, words: int, seed: int = 0) -> int:
    """MIMIC-format CSVs for `notes` admissions; returns the NOTEEVENTS size in bytes."""
    mimic, splits = folder / "mimic", folder / "splits"
    mimic.mkdir(parents=True)
    splits.mkdir()
    generated = synthetic.generate(MIMIC3_TOP50, notes, noise=0.0, seed=seed, mean_tokens=words)
    columns = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME", "STORETIME", "CATEGORY",
               "DESCRIPTION", "CGID", "ISERROR", "TEXT"]
    with open(mimic / "NOTEEVENTS.csv", "w", newline="") as notes_f, \
            open(mimic / "DIAGNOSES_ICD.csv", "w", newline="") as dx_f, \
            open(mimic / "PROCEDURES_ICD.csv", "w", newline="") as px_f:
        notes_w, dx_w, px_w = csv.writer(notes_f), csv.writer(dx_f), csv.writer(px_f)
        notes_w.writerow(columns)
        dx_w.writerow(["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"])
        px_w.writerow(["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"])
        hadm = 100000
        for name, docs in generated.items():
            ids = []
            for doc in docs:
                hadm += 1
                ids.append(str(hadm))
                notes_w.writerow([hadm, hadm, hadm, "2150-01-01", "", "", "Discharge summary", "Report", "", "", doc.text])
                for seq, code in enumerate(doc.codes, 1):
                    (px_w if code.split(".")[0].isdigit() and len(code.split(".")[0]) == 2 else dx_w).writerow(
                        [hadm, hadm, hadm, seq, code.replace(".", "")])
            (splits / f"{name}_50_hadm_ids.csv").write_text("\n".join(ids) + "\n")
    return (mimic / "NOTEEVENTS.csv").stat().st_size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=50_000)
    parser.add_argument("--words", type=int, default=1500, help="mean words per note")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = {"notes": args.notes, "words_per_note": args.words}
    folder = Path(tempfile.mkdtemp(prefix="jlan_bench_"))
    try:
        start = time.perf_counter()
        size = write_corpus(folder, args.notes, args.words)
        print(f"wrote {args.notes} notes ({size / 1e6:.0f} MB NOTEEVENTS.csv) in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        out = prepare_mimic3(folder / "prepared", folder / "mimic", folder / "splits", "50", word2vec_epochs=0)
        seconds = time.perf_counter() - start
        results.update(prepare_s_without_word2vec=round(seconds, 1), prepare_notes_per_s=round(args.notes / seconds))
        print(f"jlan-prepare mimic3 (word2vec off): {seconds:.1f} s, {args.notes / seconds:,.0f} notes/s")

        from jlan_tf.data.word2vec import train_word2vec

        data = load_prepared(out)
        train = data.splits["train"]
        start = time.perf_counter()
        train_word2vec(data.vocab, train, 100, 1, seed=0)
        seconds = time.perf_counter() - start
        results["word2vec_s_per_epoch"] = round(seconds, 1)
        print(f"word2vec CBOW, 1 epoch over the {len(train)} training notes: {seconds:.1f} s")

        from jlan_tf.data.pipeline import make_dataset

        ds = make_dataset(data, "train", args.batch, training=True)
        for _ in ds.take(20):  # warm-up
            pass
        start, batches = time.perf_counter(), 0
        for _ in ds:
            batches += 1
        seconds = time.perf_counter() - start
        results.update(pipeline_batches_per_s=round(batches / seconds, 1),
                       pipeline_docs_per_s=round(batches * args.batch / seconds))
        print(f"tf.data training pipeline: {batches / seconds:,.0f} batches/s of {args.batch} "
              f"({batches * args.batch / seconds:,.0f} notes/s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
