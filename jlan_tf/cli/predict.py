"""``jlan-predict --model saved_models/NAME[/VERSION] FILE...``: codes, descriptions,
probabilities and evidence words for each note file, as text, JSON or an HTML page.

Reads the exported SavedModel with TensorFlow alone (its ``explain`` signature); without a
version, the highest one is used. Each FILE is one note (UTF-8; other bytes replaced)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jlan_tf.cli import logs


BATCH = 32


def resolve_model_dir(path: Path) -> Path:
    if (path / "saved_model.pb").exists():
        return path
    versions = sorted((p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists()),
                      key=lambda p: int(p.name)) if path.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"{path}: no SavedModel here (nor in a numbered version folder)")
    return versions[-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jlan-predict", description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--top-k", type=int, default=5, help="codes per note (at most the exported k)")
    parser.add_argument("--evidence-words", type=int, default=5)
    parser.add_argument("--evidence", choices=["contribution", "attention"], default="contribution",
                        help="rank a code's evidence words by their contribution to its score (default; closer "
                             "to the coders' spans on CodiEsp dev) or by the attention weights")
    parser.add_argument("--format", choices=["text", "json", "html"], default="text")
    parser.add_argument("--out", help="write here instead of standard output")
    logs.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        model_dir = resolve_model_dir(Path(args.model))
        texts = []
        for name in args.files:
            try:
                texts.append(Path(name).read_bytes().decode("utf-8", "replace"))
            except OSError as e:
                raise FileNotFoundError(f"{name}: cannot be read ({e.strerror})") from None
    except FileNotFoundError as e:
        print(f"jlan-predict: error: {e}", file=sys.stderr)
        return 2

    tf = logs.import_tensorflow(logs.verbosity(args))

    from jlan_tf import evidence

    explain = tf.saved_model.load(str(model_dir)).signatures["explain"]
    notes = []
    for start in range(0, len(texts), BATCH):
        outputs = {k: v.numpy() for k, v in explain(text=tf.constant(texts[start:start + BATCH])).items()}
        try:
            notes += evidence.from_explain(args.files[start:start + BATCH], outputs, args.top_k,
                                           args.evidence_words, by=args.evidence)
        except KeyError as e:
            print(f"jlan-predict: error: {model_dir}: {e.args[0]}", file=sys.stderr)
            return 2
    if args.format == "json":
        rendered = json.dumps(evidence.to_json(notes), indent=2) + "\n"
    elif args.format == "html":
        rendered = evidence.to_html(notes, texts)
    else:
        rendered = evidence.to_text(notes)
    if args.out:
        tmp = Path(args.out).with_name(Path(args.out).name + ".tmp")
        tmp.write_text(rendered, encoding="utf-8")
        tmp.replace(args.out)
    else:
        sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
