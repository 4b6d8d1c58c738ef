"""What a run costs at the users' scale: the real path, stage by stage, on a synthetic corpus of
a real corpus's shape (jlan_tf.studies.scale; the stages and how memory is measured are in
its docstring), with the default configuration unless --set says otherwise.

    python experiments/scale_check.py --shape mimic3-full --json
    python experiments/scale_check.py --shape mimic3-50 --out /tmp/scale    # keep what it wrote
    python experiments/scale_check.py --docs 2000 --labels 1000 --vocab 5000 --words 300   # any shape

Shapes: mimic3-50, mimic3-full (CAML's splits: 47,719 / 1,631 / 3,372 notes, 8,921 codes,
51,917 words), mimic4-icd10 (Edin et al.'s: 110,442 / 4,017 / 7,851 notes, 7,942 codes).
--docs sets the training notes (dev and test a tenth each unless the shape gives them).

--json prints one JSON line: shape, notes, labels, vocab, max_tokens, batch_size, stages
(per stage: seconds, peak_rss_mb, disk_mb), step_seconds, epoch_seconds_estimate,
savedmodel_dir, savedmodel_mb, checkpoint_mb, serve_p50_ms, serve_p95_ms, serve_p50_ms_top50,
gpu_step_memory_gb (float32, mixed_float16: jlan_tf.memory's estimate of one training step),
peak_rss_mb, and budget_seconds (prepare + word2vec + lexical + evaluate_dev + export).
--results FILE also writes it there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from jlan_tf.config import Config
from jlan_tf.data.shaped import SHAPES, Shape
from jlan_tf.studies.scale import PROCESSES, scale_check


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), help="a real corpus's shape")
    parser.add_argument("--docs", type=int, help="training notes (dev and test: a tenth each)")
    parser.add_argument("--labels", type=int)
    parser.add_argument("--vocab", type=int, help="distinct words of the synthetic text")
    parser.add_argument("--words", type=int, help="mean words per note")
    parser.add_argument("--tokens", type=int, help="tokens kept per note (data.max_tokens)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--requests", type=int, default=20, help="single-note serving calls timed")
    parser.add_argument("--word2vec-workers", type=int, help="as jlan-prepare's (default: by corpus size)")
    parser.add_argument("--out", help="keep the corpus, prepared folder, run and exports here")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--results", help="also write the JSON to this file")
    parser.add_argument("--only", help="comma-separated stages to run again on what --out kept from an earlier "
                                       "check (its --results file is updated)")
    args = parser.parse_args(argv)
    if not args.shape and not (args.docs and args.labels):
        parser.error("give --shape, or --docs and --labels")
    shape = SHAPES[args.shape] if args.shape else Shape(args.docs, max(1, args.docs // 10), max(1, args.docs // 10),
                                                      args.labels, args.vocab or 20_000)
    changes = {k: v for k, v in (("labels", args.labels), ("vocab", args.vocab), ("mean_words", args.words)) if v}
    if args.docs:
        changes.update(train=args.docs, dev=max(1, args.docs // 10), test=max(1, args.docs // 10))
    shape = dataclasses.replace(shape, **changes)
    overrides = list(args.set) + ([f"data.max_tokens={args.tokens}"] if args.tokens else [])
    config = Config().apply_overrides(overrides)  # refuses unknown keys before any work
    name = args.shape or "custom"
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="scale_check_"))
    only, earlier = PROCESSES, None
    if args.only:
        if not (args.out and args.results and Path(args.results).exists()):
            parser.error("--only needs the --out and --results of an earlier check")
        only, earlier = tuple(args.only.split(",")), json.loads(Path(args.results).read_text())
    def save(partial: dict) -> None:
        if args.results:
            Path(args.results).parent.mkdir(parents=True, exist_ok=True)
            Path(args.results).write_text(json.dumps(partial, indent=2, sort_keys=True) + "\n")

    report = scale_check(name, shape, work, overrides, keep=bool(args.out), requests=args.requests,
                         log=lambda line: print(line, file=sys.stderr), only=only, report=earlier,
                         word2vec_workers=args.word2vec_workers, after_stage=save)
    from jlan_tf.memory import step_memory_bytes

    report["gpu_step_memory_gb"] = {
        precision: round(step_memory_bytes(config, report["vocab"], shape.labels, report["batch_size"],
                                           config.data.max_tokens, precision) / 1e9, 2)
        for precision in ("float32", "mixed_float16")}
    line = json.dumps(report, sort_keys=True)
    if args.results:
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.json:
        print(line)
    else:
        print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
