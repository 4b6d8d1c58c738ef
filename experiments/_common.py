"""Shared by the experiment scripts: run the training driver (experiments/train.py) once per
variant and seed, then turn the runs' metrics.json files into tables and figures.

Finished runs are reused (a script stopped half-way continues where it was); a run folder
without metrics.json is resumed.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
from pathlib import Path

from jlan_tf.cli.train import config_for, resume_training, run_training
from jlan_tf.config import Config
from jlan_tf.data.catalog import ResolvedDataset, resolve
from jlan_tf.data.prepared import DataError
from jlan_tf.metrics import REPORTED
from jlan_tf.run_folder import RunFolder
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
# scorer, weight decay and the TF-IDF part became defaults, with Keras 3's reading of Adam (train.optimizer): their
# scripts pin these so they rerun as recorded.
AS_RECORDED = ["train.ema_momentum=0", "train.optimizer=keras_adam", "model.output_description_scorer=false",
               "train.weight_decay=0", "model.lexical_output=false"]
TABLE_METRICS = REPORTED  # the metrics named once, in jlan_tf.metrics
TUNED = "micro_f1_tuned"  # micro-F1 at the threshold tuned on dev (on dev itself: an upper bound)


def paired_metrics(results: dict[str, list[dict]], block: str, values: dict | None = None) -> tuple[str, ...]:
    """The paired tables' columns: TABLE_METRICS, and micro-F1 at dev's tuned threshold where
    every run (and the constant ``values``, if given) has it: the F1 that does not hinge on
    where the scores sit around 0.5."""
    has_tuned = all(TUNED in r[block] for runs in results.values() for r in runs)
    return TABLE_METRICS + ((TUNED,) if has_tuned and (values is None or TUNED in values) else ())


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


def paired_difference(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Mean of the paired differences a - b (same seeds) and its 95 % t-interval."""
    from scipy import stats

    diffs = [x - y for x, y in zip(a, b)]
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return mean, mean - half, mean + half


def write_against_constant(results: dict[str, list[dict]], out: Path, name: str, values: dict, block: str = "test",
                           metrics: tuple[str, ...] | None = None) -> str:
    """Markdown (OUT/against_lr_BLOCK.md): a deterministic model's ``values`` (e.g. TF-IDF + LR,
    one fit) and, per variant, the mean over seeds minus it with the 95 % t-interval of the
    seeds' differences (the interval covers the seeds' spread; the constant has none).
    ``metrics`` None: ``paired_metrics``."""
    metrics = metrics or paired_metrics(results, block, values)
    lines = [f"Against **{name}** ({block}, one fit): per variant, the mean over seeds minus {name} "
             f"[95 % t-interval over the seeds]. F1 at the 0.5 threshold for both"
             + (f"; {name}'s micro-F1 at its dev-tuned threshold: {values['micro_f1_tuned']:.3f}."
                if "micro_f1_tuned" in values else "."), "",
             "| variant | runs | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 2) + "|",
             f"| {name} | 1 | " + " | ".join(f"{values[m]:.3f}" for m in metrics) + " |"]
    for variant, runs in results.items():
        cells = []
        for m in metrics:
            d, lo, hi = paired_difference([r[block][m] for r in runs], [values[m]] * len(runs))
            cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        lines.append(f"| {variant} − LR | {len(runs)} | " + " | ".join(cells) + " |")
    markdown = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"against_lr_{block}.md").write_text(markdown)
    return markdown


def lr_metrics(args) -> dict:
    """TF-IDF + LR (experiments/baseline_lr.py) fitted once on the sweep's prepared data: its dev and test metrics."""
    from baseline_lr import fit_and_score
    from jlan_tf.data.prepared import load_prepared

    return fit_and_score(load_prepared(sweep_dataset(args, sweep_config(args)).path))


def write_paired_table(results: dict[str, list[dict]], out: Path, reference: str, block: str = "test",
                       metrics: tuple[str, ...] | None = None) -> str:
    """Markdown (OUT/paired_BLOCK.md): per variant, runs, how many stopped at their epoch
    limit, and per metric (None: ``paired_metrics``) the mean ± sd and the paired difference
    to ``reference`` with its 95 % interval (seed i of each variant is paired with seed i of
    the reference)."""
    metrics = metrics or paired_metrics(results, block)
    ref = results[reference]
    lines = [f"Paired against **{reference}** ({block}): mean ± sd over seeds; below it, the mean paired "
             f"difference [95 % t-interval]. *at limit*: runs that reached train.epochs without early stopping.", "",
             "| variant | runs | at limit | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 3) + "|"]
    for name, runs in results.items():
        n = min(len(runs), len(ref))
        at_limit = sum(len(r["epochs"]) >= r.get("epoch_limit", 10**9) for r in runs)
        cells = []
        for m in metrics:
            mean, sd = mean_std([r[block][m] for r in runs])
            cell = f"{mean:.3f} ± {sd:.3f}"
            if name != reference and n:
                d, lo, hi = paired_difference([r[block][m] for r in runs[:n]], [r[block][m] for r in ref[:n]])
                cell += f"<br>{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            cells.append(cell)
        lines.append(f"| {name} | {len(runs)} | {at_limit} | " + " | ".join(cells) + " |")
    markdown = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"paired_{block}.md").write_text(markdown)
    return markdown


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


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def write_table(results: dict[str, list[dict]], out: Path, block: str = "test",
                metrics: tuple[str, ...] = TABLE_METRICS, extra: dict[str, dict[str, list[float]]] | None = None) -> str:
    """Markdown and CSV of mean ± std over seeds; returns the Markdown."""
    extra = extra or {}
    columns = list(metrics) + sorted({k for v in extra.values() for k in v})
    rows = []
    for name, runs in results.items():
        values = {m: [r[block][m] for r in runs] for m in metrics}
        values.update(extra.get(name, {}))
        rows.append((name, len(runs), {m: mean_std(values[m]) for m in columns}))
    lines = ["| variant | runs | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for name, n, stats in rows:
        lines.append(f"| {name} | {n} | " + " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in stats.values()) + " |")
    markdown = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(markdown)
    with open(out / "table.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["variant", "runs"] + [f"{c}_{x}" for c in columns for x in ("mean", "std")])
        for name, n, stats in rows:
            writer.writerow([name, n] + [f"{v:.6f}" for m, s in stats.values() for v in (m, s)])
    return markdown


def bar_chart(results: dict[str, list[dict]], path: Path, metrics=("micro_f1", "macro_f1"), block: str = "test",
              title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results)
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 2, 3.6))
    for i, metric in enumerate(metrics):
        stats = [mean_std([r[block][metric] for r in results[n]]) for n in names]
        ax.bar(np.arange(len(names)) + i * width, [m for m, _ in stats], width, yerr=[s for _, s in stats],
               capsize=3, label=metric)
    ax.set_xticks(np.arange(len(names)) + width * (len(metrics) - 1) / 2, names)
    ax.set_ylabel(f"{block} score")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mean_curve(runs: list[dict], block: str, metric: str) -> list[float]:
    """Per epoch, the mean over seeds (as far as every seed's run went)."""
    epochs = min(len(r["epochs"]) for r in runs)
    return [statistics.fmean(r["epochs"][e][block][metric] for r in runs) for e in range(epochs)]


def tensorboard_curves(results: dict[str, list[dict]], logdir: Path) -> None:
    """The convergence curves also for TensorBoard: one run per variant (mean over seeds),
    step = epoch, so ``tensorboard --logdir OUT/tensorboard`` overlays the variants."""
    import tensorflow as tf

    for name, runs in results.items():
        folder = logdir / name.replace(" ", "_")
        shutil.rmtree(folder, ignore_errors=True)  # a rerun replaces the curves, not adds to them
        writer = tf.summary.create_file_writer(str(folder))
        with writer.as_default():
            for tag, block, metric in (("training_loss", "train", "loss"), ("dev_micro_f1", "dev", "micro_f1")):
                for epoch, value in enumerate(mean_curve(runs, block, metric), 1):
                    tf.summary.scalar(f"convergence/{tag}", value, step=epoch)
        writer.close()


def curves(results: dict[str, list[dict]], names: list[str], path: Path, title: str = "") -> None:
    """Training loss and dev micro-F1 per epoch (mean over seeds) for the named variants."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, f1_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name in names:
        for ax, block, metric in ((loss_ax, "train", "loss"), (f1_ax, "dev", "micro_f1")):
            values = mean_curve(results[name], block, metric)
            ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    loss_ax.set(xlabel="epoch", ylabel="training loss")
    f1_ax.set(xlabel="epoch", ylabel="dev micro-F1")
    for ax in (loss_ax, f1_ax):
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
