"""What a run costs at a corpus's real shape: each stage of the real path run in its own
process on a synthetic corpus of that shape (``data.shaped``), with its wall time, its peak
resident memory and what it wrote to disk. ``experiments/scale_check.py`` is the command.

Stages, in order: ``corpus`` (writing the synthetic notes: not part of a real run),
``prepare`` (tokenizing, vocabulary, the prepared folder), ``word2vec`` (timed inside the
same process as ``prepare``; its peak is sampled), ``lexical`` (the TF-IDF part's fit),
``train_steps`` (building the model and ``K`` training steps on the real batches, notes of
every length: ``step_seconds`` is their mean after two warm-up steps, which trace the graph;
``epoch_seconds_estimate`` that mean times the steps of an epoch), ``evaluate_dev`` (one prediction
of the dev split and its metrics), ``export`` (the TF Serving SavedModel) and ``serve``
(single 2,500-token notes through the SavedModel's ``serving_default``, p50/p95, and the
same for a model of MIMIC-III-50's label count with the same vocabulary, exported in the
same run).

Peak memory: ``peak_rss_mb`` of a stage is the largest resident set of its process or any
process it waited for (``os.wait4``'s ``ru_maxrss``, what ``/usr/bin/time -v`` reports);
``peak_tree_rss_mb`` adds up the resident sets of the process and its children, sampled every
50 ms (the TF-IDF part's fit runs on several processes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from jlan_tf.studies.measure import MemorySampler, machine

STAGES = ("corpus", "prepare", "word2vec", "lexical", "train_steps", "evaluate_dev", "export", "serve")
BUDGET_STAGES = ("prepare", "word2vec", "lexical", "evaluate_dev", "export")  # all but the epochs


def run_stage_here(stage: str, work: Path, options: dict) -> dict:
    """Runs one stage in this process (tests: no TensorFlow start-up per stage); its peak is
    this process's sampled peak during the stage, which includes what the process held before."""
    from jlan_tf.studies import scale_stages

    sampler = MemorySampler()
    sampler.start(stage)
    start = time.perf_counter()
    figures = getattr(scale_stages, stage)(work, options, sampler)
    figures["process_seconds"] = round(time.perf_counter() - start, 1)
    figures["process_peak_rss_mb"] = round(sampler.stop(stage)[0], 1)
    sampler.close()
    return figures


def run_stage(stage: str, work: Path, options: dict) -> dict:
    """Runs one stage in a fresh Python process; its figures, with ``peak_rss_mb`` from the
    kernel's accounting of that process (and whatever it waited for)."""
    command = [sys.executable, "-m", "jlan_tf.studies.scale_stages", stage, str(work), json.dumps(options)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=None, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"scale check: stage {stage} failed (exit {code}); its error is above")
    figures = json.loads(output.strip().splitlines()[-1])
    figures["process_seconds"] = round(seconds, 1)
    figures["process_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return figures


PROCESSES = ("corpus", "prepare", "lexical", "train_steps", "evaluate_dev", "export", "serve")


def scale_check(shape_name: str, shape, work: Path, overrides: list[str], keep: bool = False,
                requests: int = 20, log=print, only: tuple[str, ...] = PROCESSES, report: dict | None = None,
                in_process: bool = False, word2vec_epochs: int | None = None, word2vec_workers: int | None = None,
                after_stage=None) -> dict:
    """Every stage at ``shape`` (or the ``only`` ones, on what an earlier check kept in ``work``,
    updating its ``report``); the JSON-able report (see ``experiments/scale_check.py``).
    ``in_process`` runs the stages here (tests); ``word2vec_epochs`` overrides the rule's;
    ``after_stage(report)`` is called after each stage (the command saves the partial report,
    so that ``--only`` can go on after a stage failed)."""
    work.mkdir(parents=True, exist_ok=True)
    options = {"shape": shape.__dict__, "overrides": overrides, "requests": requests,
               "word2vec_epochs": word2vec_epochs, "word2vec_workers": word2vec_workers}
    report = report or {"shape": shape_name, "notes": shape.notes, "labels": shape.labels, "stages": {}}
    report.update(machine=machine(), date=time.strftime("%Y-%m-%d"))
    for stage in [s for s in PROCESSES if s in only]:
        log(f"scale check {shape_name}: {stage} ...")
        figures = (run_stage_here if in_process else run_stage)(stage, work, options)
        stages = figures.pop("stages")
        for name, values in stages.items():
            values.setdefault("peak_rss_mb", figures["process_peak_rss_mb"])
            report["stages"][name] = values
            log(f"  {name}: {values['seconds']:.1f} s, peak {values['peak_rss_mb']:.0f} MB, "
                f"disk {values.get('disk_mb', 0):.0f} MB")
        report.update(figures.get("report", {}))
        if after_stage:
            after_stage(report)
    stages = report["stages"]
    report["peak_rss_mb"] = max(s["peak_rss_mb"] for s in stages.values())
    report["budget_seconds"] = round(sum(stages[s]["seconds"] for s in BUDGET_STAGES if s in stages), 1)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report
