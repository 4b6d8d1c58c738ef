"""``jlan-train``: train, evaluate and export JLAN (or a baseline, ``--preset laat``).

    jlan-train --dataset top50
    jlan-train --dataset top50 --preset jlan_paper --print-config
    jlan-train --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50 [--lang es]
    jlan-train --dataset synthetic --set train.epochs=3 --set model.fusion=sum
    jlan-train --resume runs/top50-20261125-170000

(``python experiments/train.py`` is the same command.) Settings: the typed config in
jlan_tf/config.py, then --config FILE (JSON, as saved in a run's config.json), then each
--preset NAME (or --set preset=NAME), then each --set section.key=value. Every option:
docs/configuration.md; the presets: docs/presets.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jlan_tf.cli import logs
from jlan_tf.config import PRESET_HELP, PRESETS, Config
from jlan_tf.data.catalog import ResolvedDataset, is_synthetic, resolve
from jlan_tf.data.prepared import DataError, load_prepared
from jlan_tf.memory import MemoryBudgetError
from jlan_tf.metrics import summary_line
from jlan_tf.run_folder import RunFolder

# On the synthetic stand-in, a quick CPU demo unless the user says otherwise.
SYNTHETIC_DEMO = {"train.epochs": "4", "data.synthetic_docs": "5000"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="jlan-train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", help="top50 | full | mimic4_icd9 | mimic4_icd10 | codiesp | synthetic | a prepared folder")
    parser.add_argument("--data-dir", help="prepared MIMIC folder (top50/full/mimic4_*) or CodiEsp release (codiesp)")
    parser.add_argument("--top-codes", type=int, help="codiesp: keep the N most frequent training codes")
    parser.add_argument("--lang", choices=["en", "es"], default="en",
                        help="codiesp: English (machine translation) or the original Spanish, with evidence spans")
    parser.add_argument("--config", help="a JSON config file")
    parser.add_argument("--preset", choices=list(PRESETS), metavar="NAME",
                        help="a model's published settings, before --set: "
                             + "; ".join(f"{name}: {text}" for name, text in PRESET_HELP.items()))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="change one option (repeatable); every option, its type and default: "
                             "docs/configuration.md")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config as JSON and stop (no data read, nothing trained)")
    parser.add_argument("--name", help="run name (default: DATASET-DATE-TIME)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--resume", help="a run folder to continue")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel export at the end")
    parser.add_argument("--skip-memory-check", action="store_true",
                        help="train even when a step's memory estimate exceeds what the machine has")
    logs.add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.dataset and not args.resume and not args.print_config:
        parser.error("give --dataset (or --resume RUN)")
    if args.preset:
        args.set = [f"preset={args.preset}", *args.set]
    return args


def config_for(dataset: str, data_dir: str | None, config_file: str | None, overrides: list[str]) -> Config:
    """The typed config of a new run: defaults, the file, the overrides; on the synthetic
    stand-in the demo's short settings where the user set nothing."""
    config = Config.load(config_file) if config_file else Config()
    config.apply_overrides(overrides)
    if is_synthetic(dataset, data_dir) and not config_file:
        user_keys = {item.partition("=")[0].strip() for item in overrides}
        config.apply_overrides([f"{k}={v}" for k, v in SYNTHETIC_DEMO.items() if k not in user_keys])
    return config


def run_training(dataset: ResolvedDataset, config: Config, run_dir: str | Path, export: bool = False,
                 verbose: int = 2) -> dict:
    """Trains a new run (or resumes one) in ``run_dir`` on a resolved dataset; returns
    metrics.json's content (and the export's path under ``"export"`` when asked)."""
    from jlan_tf.distributed import writes_run
    from jlan_tf.training import preflight, train

    data = load_prepared(dataset.path)
    preflight(data, config)  # a step that cannot fit stops here, before the run folder exists
    run = RunFolder(run_dir)
    chief = writes_run(config.train.strategy)  # a multi-worker cluster's other workers write nothing
    if chief and not run.state.exists():
        run.create()
        run.write_data_info(dataset.data_source, dataset.path, dataset.note)
    result = train(data, config, run.path, verbose=verbose)
    if export and chief:
        from jlan_tf.serving import export_run

        result["export"] = str(export_run(run.path))
    return result


def resume_training(run_dir: str | Path, export: bool = False, verbose: int = 2) -> dict:
    run = RunFolder(run_dir)
    info = run.read("data")
    dataset = ResolvedDataset(Path(info["path"]), info["data_source"], info.get("note", ""))
    return run_training(dataset, Config.load(run.config), run.path, export, verbose)


def main(argv=None) -> int:
    args = parse_args(argv)
    logs.setup(logs.verbosity(args))
    verbose = 0 if args.quiet else 1 if sys.stdout.isatty() else 2
    from jlan_tf.distributed import writes_run
    from jlan_tf.training import NonFiniteLoss

    try:
        if args.print_config:
            config = Config.load(RunFolder(args.resume).config) if args.resume else \
                config_for(args.dataset or "", args.data_dir, args.config, args.set)
            print(json.dumps(config.to_dict(), indent=2, sort_keys=True))
            return 0
        if args.resume:
            run_dir = Path(args.resume)
            result = resume_training(run_dir, not args.no_export, verbose)
        else:
            config = config_for(args.dataset, args.data_dir, args.config,
                                args.set + (["train.memory_check=false"] if args.skip_memory_check else []))
            dataset = resolve(args.dataset, config.data, args.data_dir, args.top_codes, args.lang)
            if dataset.note:
                print(dataset.note)
            run_dir = Path(args.runs_dir) / (args.name or f"{Path(args.dataset).name}-{time.strftime('%Y%m%d-%H%M%S')}")
            if run_dir.exists() and writes_run(config.train.strategy):
                raise DataError(f"{run_dir}: a run of that name exists (use --resume {run_dir} to continue it)")
            result = run_training(dataset, config, run_dir, not args.no_export, verbose)
    except (DataError, KeyError, ValueError, MemoryBudgetError) as e:
        print(f"jlan-train: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    except NonFiniteLoss as e:
        print(f"jlan-train: training stopped: {e}", file=sys.stderr)
        return 3
    if "test" not in result:  # a multi-worker cluster's other workers: the chief wrote the run
        print(f"worker done after {len(result['epochs'])} epochs; the chief wrote {run_dir}")
        return 0
    if "export" in result:
        print(f"exported SavedModel: {result['export']}")
    print(f"\nrun folder: {run_dir}   data: {result['data_source']}   best epoch: {result['best_epoch']}")
    for split in ("dev", "test") + (("test_clean",) if "test_clean" in result else ()):
        print(f"{split:>10}: " + summary_line(result[split]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
