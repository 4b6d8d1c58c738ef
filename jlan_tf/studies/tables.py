"""A study's tables and figures from its runs' metrics.json files: mean and standard deviation
over seeds, paired differences with their 95 % interval, comparisons with a fixed baseline,
bar charts and TensorBoard curves."""

from __future__ import annotations

import csv
import shutil
import statistics
from pathlib import Path

from jlan_tf.metrics import REPORTED

TABLE_METRICS = REPORTED  # the metrics named once, in jlan_tf.metrics
TUNED = "micro_f1_tuned"  # micro-F1 at the threshold tuned on dev (on dev itself: an upper bound)
OFFICIAL = "codiesp_map"  # the CodiEsp task's MAP (metrics.codiesp_map), where the data are CodiEsp's


def _in_every(results: dict[str, list[dict]], block: str, key: str, values: dict | None = None) -> bool:
    return (all(key in r[block] for runs in results.values() for r in runs)
            and (values is None or key in values))


def paired_metrics(results: dict[str, list[dict]], block: str, values: dict | None = None) -> tuple[str, ...]:
    """The paired tables' columns: TABLE_METRICS, then, where every run (and the constant
    ``values``, if given) has them, micro-F1 at dev's tuned threshold (the F1 that does not hinge
    on where the scores sit around 0.5) and the CodiEsp task's official MAP."""
    return TABLE_METRICS + tuple(key for key in (TUNED, OFFICIAL) if _in_every(results, block, key, values))


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


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def write_table(results: dict[str, list[dict]], out: Path, block: str = "test",
                metrics: tuple[str, ...] | None = None, extra: dict[str, dict[str, list[float]]] | None = None) -> str:
    """Markdown and CSV of mean ± std over seeds (``metrics`` None: TABLE_METRICS, and the
    official MAP where every run has it); returns the Markdown."""
    extra = extra or {}
    if metrics is None:
        metrics = TABLE_METRICS + ((OFFICIAL,) if _in_every(results, block, OFFICIAL) else ())
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
