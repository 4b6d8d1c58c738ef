"""Train, evaluate and export JLAN.

    python experiments/train.py --dataset top50
    python experiments/train.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50
    python experiments/train.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50 --lang es
    python experiments/train.py --dataset synthetic --set train.epochs=3 --set model.fusion=sum
    python experiments/train.py --resume runs/top50-20261125-170000

Settings: the typed config in jlan_tf/config.py (defaults from the paper), then --config FILE
(JSON, as saved in a run's config.json), then each --set section.key=value.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jlan_tf.cli import logs
from jlan_tf.config import Config
from jlan_tf.data.prepared import DataError, load_prepared
from jlan_tf.datasets import is_synthetic, resolve
from jlan_tf.metrics import summary_line

# On the synthetic stand-in, a quick CPU demo unless the user says otherwise.
SYNTHETIC_DEMO = {"train.epochs": "4", "data.synthetic_docs": "5000"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", help="top50 | full | mimic4_icd9 | mimic4_icd10 | codiesp | synthetic | a prepared folder")
    parser.add_argument("--data-dir", help="prepared MIMIC folder (top50/full/mimic4_*) or CodiEsp release (codiesp)")
    parser.add_argument("--top-codes", type=int, help="codiesp: keep the N most frequent training codes")
    parser.add_argument("--lang", choices=["en", "es"], default="en",
                        help="codiesp: English (machine translation) or the original Spanish, with evidence spans")
    parser.add_argument("--config", help="a JSON config file")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--name", help="run name (default: DATASET-DATE-TIME)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--resume", help="a run folder to continue")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel export at the end")
    logs.add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.dataset and not args.resume:
        parser.error("give --dataset (or --resume RUN)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logs.setup(logs.verbosity(args))
    try:
        if args.resume:
            run_dir = Path(args.resume)
            config = Config.load(run_dir / "config.json")
            data_info = json.loads((run_dir / "data.json").read_text())
            data_source, data_path = data_info["data_source"], Path(data_info["path"])
        else:
            config = Config.load(args.config) if args.config else Config()
            config.apply_overrides(args.set)
            if is_synthetic(args.dataset, args.data_dir) and not args.config:
                user_keys = {item.partition("=")[0].strip() for item in args.set}
                config.apply_overrides([f"{k}={v}" for k, v in SYNTHETIC_DEMO.items() if k not in user_keys])
            dataset = resolve(args.dataset, config.data, args.data_dir, args.top_codes, args.lang)
            if dataset.note:
                print(dataset.note)
            run_dir = Path(args.runs_dir) / (args.name or f"{Path(args.dataset).name}-{time.strftime('%Y%m%d-%H%M%S')}")
            if run_dir.exists():
                raise DataError(f"{run_dir}: a run of that name exists (use --resume {run_dir} to continue it)")
            run_dir.mkdir(parents=True)
            data_source, data_path = dataset.data_source, dataset.path
            (run_dir / "data.json").write_text(json.dumps(
                {"data_source": data_source, "path": str(data_path.resolve()), "note": dataset.note}, indent=2) + "\n")
        data = load_prepared(data_path)
        from jlan_tf.training import NonFiniteLoss, train

        result = train(data, config, run_dir, data_source, verbose=0 if args.quiet else 1 if sys.stdout.isatty() else 2)
    except (DataError, KeyError, ValueError) as e:
        print(f"train.py: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    except NonFiniteLoss as e:
        print(f"train.py: training stopped: {e}", file=sys.stderr)
        return 3
    if not args.no_export:
        from jlan_tf.serving import export_run

        print(f"exported SavedModel: {export_run(run_dir)}")
    print(f"\nrun folder: {run_dir}   data: {data_source}   best epoch: {result['best_epoch']}")
    for split in ("dev", "test") + (("test_clean",) if "test_clean" in result else ()):
        print(f"{split:>10}: " + summary_line(result[split]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
