"""Writes docs/costs.md, "what a run costs", from the scale checks' results files
(results/scale/SHAPE.json, written by experiments/scale_check.py --results).

    python experiments/costs_table.py            # rewrites docs/costs.md
    python experiments/costs_table.py --check    # exit 1 when docs/costs.md is not what the files give
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("mimic3-50", "mimic3-full", "mimic4-icd10")
STAGES = ("prepare", "word2vec", "lexical", "train_steps", "evaluate_dev", "export", "serve")
HEADER = """# What a run costs

Measured by `python experiments/scale_check.py --shape SHAPE --results results/scale/SHAPE.json`
on a synthetic corpus of each shape (the stages, and how time and memory are measured, are in
`jlan_tf/studies/scale.py`), with the default configuration. The table is written by
`python experiments/costs_table.py` from those files; a test checks that it matches them.
Times are wall-clock seconds on the machine named in each file; peak memory is the largest
resident set of a stage's processes (the TF-IDF part's fit runs on every core: its processes'
sum is given too). The GPU figure is an estimate (`jlan_tf.memory`), not a measurement: no
GPU has run this code.
"""


def _cells(report) -> dict[str, str]:
    """measure -> cell for one shape's report."""
    stages, notes = report["stages"], report["notes"]
    cells = {"notes (train / dev / test)": f"{notes['train']:,} / {notes['dev']:,} / {notes['test']:,}",
             "codes": f"{report['labels']:,}", "words (vocabulary)": f"{report['vocab']:,}"}
    for stage in STAGES:
        s = stages.get(stage)
        if s is None:
            cells[stage] = "not run"
            continue
        tree = f" (all processes {s['peak_tree_rss_mb'] / 1024:.1f} GB)" if stage == "lexical" else ""
        disk = f", {s['disk_mb']:.0f} MB on disk" if s.get("disk_mb") else ""
        cells[stage] = f"{s['seconds']:.0f} s, peak {s['peak_rss_mb'] / 1024:.1f} GB{tree}{disk}"
    cells.update({
        "all but the epochs (prepare, word2vec, lexical, evaluate_dev, export)": f"{report['budget_seconds'] / 60:.1f} min",
        f"training step (batch {report['batch_size']})": f"{report['step_seconds']:.1f} s",
        "epoch (estimate)": f"{report['epoch_seconds_estimate'] / 3600:.1f} h",
        "checkpoint": f"{report['checkpoint_mb']:.0f} MB", "SavedModel": f"{report['savedmodel_mb']:.0f} MB",
        "serving one 2,500-word note, p50 / p95": f"{report['serve_p50_ms']:.0f} / {report['serve_p95_ms']:.0f} ms",
        "the same on first-stage candidates (served by default where the run's dev split allows that many)":
            f"{report['serve_p50_ms_candidates']:.0f} ms ({report['serve_candidates']:,} codes)"
            if "serve_p50_ms_candidates" in report else "not measured (few codes)",
        "the same, a 50-code model (same run)": f"{report['serve_p50_ms_top50']:.0f} ms",
        "GPU memory of a step, float32 / mixed_float16 (estimate)":
            f"{report['gpu_step_memory_gb']['float32']} / {report['gpu_step_memory_gb']['mixed_float16']} GB",
        "peak resident memory, any stage": f"{report['peak_rss_mb'] / 1024:.1f} GB",
        "machine": report.get("machine", ""), "date": report.get("date", "")})
    return cells


def _growth(small: dict, large: dict) -> list[str]:
    """Each budget stage's time at ``large`` over ``small`` beside the ratio of what it grows with."""
    def ratio(key):
        return key(large) / key(small)

    grows = {"prepare": ("every note's tokens", lambda r: sum(r["notes"].values()) * r["mean_tokens"]),
             "word2vec": ("training tokens x epochs",
                          lambda r: r["notes"]["train"] * r["mean_tokens"] * r["stages"]["word2vec"]["epochs"]),
             "lexical": ("notes a code's fit sees (without it: at most max_negatives) x codes",
                         lambda r: min(r["notes"]["train"], r["stages"]["lexical"].get("max_negatives") or math.inf)
                         * r["labels"]),
             "evaluate_dev": ("dev notes x codes", lambda r: r["notes"]["dev"] * r["labels"]),
             "export": ("parameters", lambda r: r["savedmodel_mb"])}
    lines = ["", f"{large['shape']} against {small['shape']}, stage by stage (the budget: twice at most):", "",
             "| stage | time ratio | grows with | its ratio |", "|---|---|---|---|"]
    for stage, (what, key) in grows.items():
        seconds = ratio(lambda r: r["stages"][stage]["seconds"])
        lines.append(f"| {stage} | {seconds:.2f}x | {what} | {ratio(key):.2f}x |")
    lines.append(f"| all but the epochs | {ratio(lambda r: r['budget_seconds']):.2f}x | | |")
    return lines


def render(results: Path) -> str:
    reports = {n: json.loads((results / f"{n}.json").read_text()) for n in SHAPES if (results / f"{n}.json").exists()}
    reports = {n: r for n, r in reports.items() if set(STAGES) <= set(r["stages"])}  # a check still running: not yet
    table = {name: _cells(report) for name, report in reports.items()}
    measures = list(next(iter(table.values()))) if table else []
    lines = [HEADER, "| | " + " | ".join(SHAPES) + " |", "|---|" + "---|" * len(SHAPES)]
    for measure in measures:
        lines.append(f"| {measure} | " + " | ".join(table[n][measure] if n in table else "not measured yet"
                                                   for n in SHAPES) + " |")
    if {"mimic3-full", "mimic4-icd10"} <= set(reports):
        lines += _growth(reports["mimic3-full"], reports["mimic4-icd10"])
    files = ", ".join(f"`results/scale/{n}.json`" for n in reports)
    lines += ["", f"Results files: {files or 'none yet'}."]
    lines += [f"\nNote on {name}: {report['notes_on_figures']}." for name, report in reports.items()
              if report.get("notes_on_figures")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text, out = render(ROOT / "results" / "scale"), ROOT / "docs" / "costs.md"
    if args.check:
        if not out.exists() or out.read_text() != text:
            print("docs/costs.md differs from results/scale/*.json: run python experiments/costs_table.py")
            return 1
        return 0
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
