"""``jlan-prepare SOURCE ... --out DIR``: turn a source into a prepared dataset."""

from __future__ import annotations

import argparse
import sys

from jlan_tf.cli import logs
from jlan_tf.data import sources
from jlan_tf.data.prepared import DataError, load_prepared


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jlan-prepare", description=__doc__)
    sub = parser.add_subparsers(dest="source", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--out", required=True, help="the prepared folder to write")
        p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
        p.add_argument("--min-doc-freq", type=int, default=2, help="rarer tokens become UNK (default 2)")
        p.add_argument("--max-tokens", type=int, default=2500, help="tokens kept per note (default 2500)")
        p.add_argument("--embedding-dim", type=int, default=100, help="word2vec size (default 100)")
        p.add_argument("--word2vec-epochs", type=int,
                       help="default: 5, more on a small corpus (until the average word is seen 1,000 times; max 50)")
        p.add_argument("--word2vec-workers", type=int,
                       help="word2vec threads (default: 1 under 20 million training tokens, the same vectors "
                            "every time; every core above, faster, with different vectors each time)")
        return p

    p = add("mimic3", "raw MIMIC-III v1.4 CSVs and CAML's split files")
    p.add_argument("--mimic-dir", required=True)
    p.add_argument("--splits-dir", help="CAML's split files (settings 50 and full)")
    p.add_argument("--setting", choices=["50", "full", "clean"], default="50")
    p.add_argument("--splits-file", help="setting clean: Edin et al.'s split file (CSV _id,split or .feather)")
    p.add_argument("--min-code-count", type=int, default=10, help="setting clean: rarer codes are removed")
    p = add("mimic4", "MIMIC-IV hosp/ tables and MIMIC-IV-Note's discharge notes (Edin et al.'s processing)")
    p.add_argument("--mimic-dir", required=True, help="the folder holding hosp/")
    p.add_argument("--note-dir", help="the folder holding note/ (default: --mimic-dir)")
    p.add_argument("--icd-version", choices=["9", "10"], default="10")
    p.add_argument("--splits-file", help="CSV (_id,split) or Edin et al.'s .feather; default: a patient-level split")
    p.add_argument("--min-code-count", type=int, default=10, help="codes in fewer admissions are removed (default 10)")
    p = add("codiesp", "the CodiEsp release layout")
    p.add_argument("--root", required=True)
    p.add_argument("--lang", choices=["en", "es"], default="en")
    p.add_argument("--task", choices=["D", "P"], default="D")
    p.add_argument("--top-codes", type=int, default=None, help="keep the N most frequent training codes")
    p.add_argument("--label-space", choices=["train_dev", "terminology"], default="train_dev",
                   help="without --top-codes: the codes of train and dev (default) or the whole terminology "
                        "(ICD-10-CM / -PCS, for zero-shot coding from descriptions)")
    p = add("synthetic", "the built-in synthetic MIMIC-like corpus")
    p.add_argument("--codes", default="top50", help="top50, or a number of ICD-9 codes to sample")
    p.add_argument("--n-docs", type=int, default=10000)
    p.add_argument("--noise", type=float, default=0.1, help="label noise rate (missed and added codes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mean-tokens", type=int, default=300)
    p = add("jsonl", "your own notes: one {id, text, codes} object per line")
    p.add_argument("--train", required=True)
    p.add_argument("--dev", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--codes", default=None, help="optional code<TAB>description table")
    return parser


def run(args: argparse.Namespace):
    options = dict(out=args.out, overwrite=args.overwrite, min_doc_freq=args.min_doc_freq,
                   max_tokens=args.max_tokens, embedding_dim=args.embedding_dim, word2vec_epochs=args.word2vec_epochs,
                   word2vec_workers=args.word2vec_workers)
    if args.source == "mimic3":
        if args.setting != "clean" and not args.splits_dir:
            raise DataError("mimic3 --setting 50|full needs --splits-dir (CAML's split files)")
        return sources.prepare_mimic3(mimic_dir=args.mimic_dir, splits_dir=args.splits_dir, setting=args.setting,
                                      splits_file=args.splits_file, min_code_count=args.min_code_count, **options)
    if args.source == "mimic4":
        return sources.prepare_mimic4(mimic_dir=args.mimic_dir, note_dir=args.note_dir or args.mimic_dir,
                                      icd_version=args.icd_version, splits_file=args.splits_file,
                                      min_code_count=args.min_code_count, **options)
    if args.source == "codiesp":
        return sources.prepare_codiesp(root=args.root, lang=args.lang, task=args.task, top_codes=args.top_codes,
                                       label_space=args.label_space, **options)
    if args.source == "synthetic":
        return sources.prepare_synthetic(codes=args.codes, n_docs=args.n_docs, noise=args.noise, seed=args.seed,
                                         mean_tokens=args.mean_tokens, **options)
    return sources.prepare_jsonl(train=args.train, dev=args.dev, test=args.test, codes=args.codes, **options)


def summary(path) -> str:
    meta = load_prepared(path).meta
    c = meta["counts"]
    warnings = ", ".join(f"{k}: {v}" for k, v in meta["warnings"].items()) or "none"
    return (f"prepared {meta['source']} dataset at {path}\n"
            f"  documents: train {c['train_documents']}, dev {c['dev_documents']}, test {c['test_documents']}\n"
            f"  labels: {c['labels']}   vocabulary: {c['vocabulary']}   mean tokens: {c['mean_tokens']}\n"
            f"  warnings: {warnings}")


def main(argv=None) -> int:
    parser = build_parser()
    logs.add_arguments(parser)
    args = parser.parse_args(argv)
    logs.setup(logs.verbosity(args), tensorflow=False)
    try:
        path = run(args)
    except DataError as e:
        print(f"jlan-prepare: error: {e}", file=sys.stderr)
        return 2
    print(summary(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
