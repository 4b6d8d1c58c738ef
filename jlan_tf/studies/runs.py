"""Running a study: the training driver once per variant and seed, finished runs reused (a
script stopped half-way continues where it was; a run folder without metrics.json is
resumed), then the tables of ``jlan_tf.studies.tables``. The scripts in ``experiments/`` are
thin command lines over this module.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jlan_tf.cli.train import config_for, resume_training, run_training
from jlan_tf.config import Config
from jlan_tf.data.catalog import ResolvedDataset, resolve
from jlan_tf.data.prepared import DataError
from jlan_tf.run_folder import RunFolder
from jlan_tf.studies.tables import bar_chart, tensorboard_curves, write_against_constant, write_paired_table, write_table
from jlan_tf.training import NonFiniteLoss

# Small defaults, per dataset; override with --set. Synthetic: one to three minutes a run on
# 2 CPU cores. CodiEsp (396 training notes): about five minutes; JLAN needs ~15 epochs there.
SMALL = {"synthetic": ["data.synthetic_docs=2000", "data.synthetic_mean_tokens=200", "train.epochs=4"],
         "codiesp": ["train.epochs=20", "train.patience=4", "train.select_on=map"]}  # until dev MAP stops improving
# The paper's form of both ideas (the defaults before the 5-seed study in the README): joint
# fusion unscaled with one gate bias per view, truncated BCE with D_max 0.15, ranked by loss,
# ceil rounding, no burn-in. Scripts that reproduce the paper's tables start from it.
PAPER = ["preset=jlan_paper"]  # config.PRESETS: the paper's fusion scale, gate biases and truncation loss
# The recorded 5-seed studies as they ran, before the weights' moving average, the description
# scorer, weight decay and the TF-IDF part became defaults, with Keras 3's reading of Adam (study.optimizer): their
# scripts pin these so they rerun as recorded.
AS_RECORDED = ["train.ema_momentum=0", "study.optimizer=keras_adam", "model.output_description_scorer=false",
               "train.weight_decay=0", "model.lexical_output=false"]
def parse_args(argv, description: str, name: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="synthetic", help="as for train.py (default: synthetic)")
    p.add_argument("--data-dir")
    p.add_argument("--top-codes", type=int)
    p.add_argument("--lang", choices=["en", "es"], default="en", help="codiesp: the text's language")
    p.add_argument("--seeds", type=int, default=5, help="model seeds per variant (at least 5 for a claim)")
    p.add_argument("--variants", help="comma-separated subset of the variants (default: all)")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: tables and figures from the finished runs (seeds finished for every variant)")
    p.add_argument("--only-seeds", help="comma-separated seeds to run now (e.g. to split the runs over two "
                                        "processes); writes no tables: --report-only then covers the runs "
                                        "found for seeds 0..SEEDS-1")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="applied to every run, after the small defaults")
    p.add_argument("--reference", help="the variant the paired tables compare against (default: the script's)")
    p.add_argument("--against-lr", action="store_true",
                   help="also compare every variant with TF-IDF + LR fitted once on the same prepared data: "
                        "OUT/against_lr_{dev,test}.md")
    p.add_argument("--report-to", help="folder for the tables and figures (default: --out; the runs stay in OUT/runs)")
    p.add_argument("--full", action="store_true", help="no small defaults: the paper's settings")
    p.add_argument("--out", help=f"folder for the table, figures and runs (default: results/{name}, "
                                 f"or results/{name}_DATASET for another dataset than synthetic)")
    args = p.parse_args(argv)
    if not args.out:
        suffix = "" if args.dataset == "synthetic" else "_" + Path(args.dataset).name
        args.out = f"results/{name}{suffix}"
    return args


def report_dir(args) -> Path:
    """Where a sweep writes its tables and figures (``--report-to``, else ``--out``)."""
    return Path(args.report_to or args.out)


def run_folder(out: str | Path, variant: str, seed: int) -> RunFolder:
    """Where a sweep keeps the run of one variant and seed."""
    return RunFolder(Path(out) / "runs" / f"{variant}-seed{seed}")


def run(args, variant: str, overrides: list[str], seed: int) -> dict:
    """metrics.json of one run (trained now, resumed, or read back when finished)."""
    run = run_folder(args.out, variant, seed)
    if run.metrics.exists():
        return _read_run(run)
    if args.report_only:
        return None
    try:
        if run.state.exists():
            resume_training(run.path)
        else:
            config = sweep_config(args, overrides + [f"train.seed={seed}"])
            run_training(sweep_dataset(args, config), config, run.path)
    except (DataError, KeyError, ValueError, NonFiniteLoss) as e:
        raise SystemExit(f"run {run.path} failed: {e.args[0] if e.args else e}") from None
    return _read_run(run)


def sweep_config(args, overrides: list[str] = ()) -> Config:
    """A run's config: the dataset's small defaults (unless --full), then --set, then ``overrides``."""
    small = [] if args.full else SMALL.get(args.dataset, SMALL["synthetic"])
    return config_for(args.dataset, args.data_dir, None, small + args.set + list(overrides))


def sweep_dataset(args, config: Config) -> ResolvedDataset:
    """The prepared dataset the sweep trains on (prepared on first use)."""
    return resolve(args.dataset, config.data, args.data_dir, args.top_codes, args.lang)


def _read_run(run: RunFolder) -> dict:
    """metrics.json plus ``epoch_limit`` (the run's train.epochs) from config.json."""
    result = run.read("metrics")
    result["epoch_limit"] = run.read("config")["train"]["epochs"]
    return result


def run_all(args, variants: dict[str, list[str]]) -> dict[str, list[dict]]:
    """Seed by seed (every variant of seed 0, then of seed 1, ...), so a sweep stopped early
    still holds paired runs of every variant. With ``--only-seeds`` (one of several processes)
    it trains and exits without a report: a partial one would overwrite OUT's tables;
    ``--report-only`` writes them once every process is done."""
    if args.variants:
        unknown = set(args.variants.split(",")) - set(variants)
        if unknown:
            raise SystemExit(f"unknown variants {sorted(unknown)}; known: {', '.join(variants)}")
        variants = {k: v for k, v in variants.items() if k in args.variants.split(",")}
    results = {name: [] for name in variants}
    seeds = [int(s) for s in args.only_seeds.split(",")] if args.only_seeds else range(args.seeds)
    for seed in seeds:
        runs = {name: run(args, name, overrides, seed) for name, overrides in variants.items()}
        if all(r is not None for r in runs.values()):  # --report-only: a seed counts when every variant has it
            for name, r in runs.items():
                results[name].append(r)
    if args.only_seeds and not args.report_only:
        print(f"runs of seeds {args.only_seeds} finished; write the tables with --report-only")
        raise SystemExit(0)
    return results


def lr_metrics(args) -> dict:
    """TF-IDF + LR (``linear.fit_and_score``) fitted once on the sweep's prepared data: its dev and test metrics."""
    from jlan_tf.studies.lr_baseline import fit_and_score
    from jlan_tf.data.prepared import load_prepared

    return fit_and_score(load_prepared(sweep_dataset(args, sweep_config(args)).path))


def sweep(argv, description: str, name: str, variants: dict[str, list[str]], what: str, reference: str | None = None):
    """The common shape of a sweep: parse the arguments, run every variant, write OUT/table.*,
    the paired tables against ``reference`` (default: the first variant) on dev and test
    (choose on dev, report test), and the bar chart OUT/<name>.png. Returns (args, results)
    for scripts that add figures (``--only-seeds``: ``run_all``)."""
    args = parse_args(argv, description, name)
    results = run_all(args, variants)
    if not all(results.values()):
        raise SystemExit("no seed has finished runs of every variant yet")
    out = report_dir(args)
    print(write_table(results, out))
    reference = args.reference or reference
    if args.reference and args.reference not in results:
        raise SystemExit(f"--reference {args.reference!r} is not among the variants run: {', '.join(results)}")
    reference = reference if reference in results else next(iter(results))
    for block in ("dev", "test"):
        print(write_paired_table(results, out, reference, block))
    if args.against_lr:
        lr = lr_metrics(args)
        for block in ("dev", "test"):
            print(write_against_constant(results, out, "TF-IDF + LR", lr[block], block))
    bar_chart(results, out / f"{name}.png", title=f"{what} on {args.dataset} (test)")
    tensorboard_curves(results, out / "tensorboard")
    return args, results
