"""``jlan-export --run runs/RUN [--out saved_models/NAME] [--version N]``: a TF Serving SavedModel."""

from __future__ import annotations

import argparse
import sys

from jlan_tf.cli import logs


def _candidates(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"auto or a whole number, not {value!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="jlan-export", description=__doc__)
    parser.add_argument("--run", required=True, help="a finished training run folder")
    parser.add_argument("--out", help="model folder (default saved_models/<run name>)")
    parser.add_argument("--version", type=int, help="version number (default: the next free one)")
    parser.add_argument("--top-k", type=int, default=10, help="codes returned per note (default 10)")
    parser.add_argument("--candidates", type=_candidates, default="auto",
                        help="serving_default runs the network on each note's N likeliest codes by the TF-IDF part "
                             "(the others get probability 0): faster with thousands of codes; auto (default): the N "
                             "training chose on dev (every code below 4,097 codes or where no N kept 99.5 %% of what "
                             "the exact model serves); 0 = every code (see docs/serving.md)")
    logs.add_arguments(parser)
    args = parser.parse_args(argv)
    logs.setup(logs.verbosity(args))
    from jlan_tf.serving import export_run

    try:
        path = export_run(args.run, args.out, args.version, args.top_k, args.candidates)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"jlan-export: error: {e}", file=sys.stderr)
        return 2
    print(f"exported {path} (signatures: serving_default, explain)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
