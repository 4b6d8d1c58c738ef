"""One stage of the scale check, run as ``python -m jlan_tf.studies.scale_stages STAGE WORK OPTIONS``
by ``jlan_tf.studies.scale``; prints its figures as one JSON line last. Each stage reads what
the one before it wrote under WORK (corpus/, prepared/, run/, export/)."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from jlan_tf.cli import logs  # noqa: E402
from jlan_tf.data.shaped import Shape, write_shaped_corpus  # noqa: E402
from jlan_tf.studies.measure import MemorySampler, disk_mb  # noqa: E402

SERVE_TOKENS = 2500


def _config(options):
    from jlan_tf.config import Config

    return Config().apply_overrides(options["overrides"])


def corpus(work: Path, options: dict, sampler: MemorySampler) -> dict:
    start = time.perf_counter()
    write_shaped_corpus(work / "corpus", Shape(**options["shape"]))
    return {"stages": {"corpus": {"seconds": time.perf_counter() - start, "disk_mb": disk_mb(work / "corpus")}}}


def prepare(work: Path, options: dict, sampler: MemorySampler) -> dict:
    """``jlan-prepare jsonl``; word2vec timed (and its memory sampled) on its own."""
    import jlan_tf.data.prepared as prepared
    from jlan_tf.data.sources import prepare_jsonl

    spent = {}
    embeddings_for = prepared.embeddings_for

    def timed_word2vec(*args, **kwargs):
        sampler.start("word2vec")
        begin = time.perf_counter()
        try:
            return embeddings_for(*args, **kwargs)
        finally:
            spent["seconds"] = time.perf_counter() - begin
            spent["peak"] = sampler.stop("word2vec")

    config = _config(options)
    corpus_dir, out = work / "corpus", work / "prepared"
    prepared.embeddings_for = timed_word2vec
    start = time.perf_counter()
    try:
        prepare_jsonl(out, corpus_dir / "train.jsonl", corpus_dir / "dev.jsonl", corpus_dir / "test.jsonl",
                      codes=str(corpus_dir / "codes.tsv"), max_tokens=config.data.max_tokens, overwrite=True,
                      word2vec_epochs=options.get("word2vec_epochs"),
                      word2vec_workers=options.get("word2vec_workers"))
    finally:
        prepared.embeddings_for = embeddings_for
    total = time.perf_counter() - start
    meta = json.loads((out / "meta.json").read_text())
    size = disk_mb(out)
    embeddings = (out / "embeddings.npy").stat().st_size / 1e6
    return {"stages": {
        "prepare": {"seconds": total - spent["seconds"], "disk_mb": size - embeddings},
        "word2vec": {"seconds": spent["seconds"], "peak_rss_mb": spent["peak"][0], "disk_mb": embeddings,
                     "epochs": meta["word2vec"]["epochs"]}},
        "report": {"vocab": meta["counts"]["vocabulary"], "mean_tokens": meta["counts"]["mean_tokens"],
                   "labels": meta["counts"]["labels"],  # the codes the notes carry (a shape's rarest may be drawn by none)
                   "max_tokens": config.data.max_tokens}}


def lexical(work: Path, options: dict, sampler: MemorySampler) -> dict:
    from jlan_tf.config import lexical_words_for
    from jlan_tf.data.prepared import load_prepared
    from jlan_tf.lexical_fit import MAX_NEGATIVES, lexical_inputs

    data, config = load_prepared(work / "prepared"), _config(options)
    sampler.start("lexical")
    start = time.perf_counter()
    lexical_inputs(data, config)  # fits and caches in prepared/cache/ (what training then reads)
    seconds = time.perf_counter() - start
    own, tree = sampler.stop("lexical")
    cache = work / "prepared" / "cache"
    return {"stages": {"lexical": {"seconds": seconds, "peak_tree_rss_mb": tree,
                                   "disk_mb": disk_mb(cache) if cache.exists() else 0.0,
                                   "words_per_code": lexical_words_for(config.model, len(data.vocab), data.num_labels),
                                   "enabled": config.model.lexical_output, "max_negatives": MAX_NEGATIVES}}}


def train_steps(work: Path, options: dict, sampler: MemorySampler) -> dict:
    """The model as training builds it, then steps on the real batches (notes of every length,
    in the training order) until their mean time is stable: two warm-up steps first (they
    trace the graph), then at least 5 and at most 12 timed, stopping when the mean of the
    steps so far moved by less than 5 % over the last three."""
    from jlan_tf.data.pipeline import make_dataset
    from jlan_tf.data.prepared import load_prepared
    from jlan_tf.model import set_precision
    from jlan_tf.run_folder import RunFolder
    from jlan_tf.training import new_model, steps_per_epoch

    data, config = load_prepared(work / "prepared"), _config(options)
    set_precision(config.model.precision)
    start = time.perf_counter()
    model = new_model(data, config)
    build = time.perf_counter() - start
    batches = iter(make_dataset(data, "train", config.data.batch_size, training=True, seed=config.train.seed))
    times = []
    means = []
    for step in range(14):
        x, y = next(batches)
        begin = time.perf_counter()
        model.train_on_batch(x, y, return_dict=True)
        if step >= 2:
            times.append(time.perf_counter() - begin)
            means.append(statistics.fmean(times))
        if len(times) >= 5 and max(means[-3:]) - min(means[-3:]) <= 0.05 * means[-1]:
            break
    step_seconds = statistics.fmean(times)
    seconds = time.perf_counter() - start
    run = RunFolder(work / "run").create()
    run.save_checkpoint(model)
    model.save(run.model)
    epoch_steps = steps_per_epoch(data, config.data.batch_size)
    return {"stages": {"train_steps": {"seconds": seconds, "build_seconds": build, "steps_timed": len(times),
                                       "disk_mb": disk_mb(run.last_checkpoint)}},
            "report": {"batch_size": config.data.batch_size, "step_seconds": step_seconds,
                       "step_seconds_all": times, "steps_per_epoch": epoch_steps,
                       "epoch_seconds_estimate": step_seconds * epoch_steps,
                       "checkpoint_mb": disk_mb(run.last_checkpoint), "precision": config.model.precision,
                       "parameters": int(model.count_params())}}


def evaluate_dev(work: Path, options: dict, sampler: MemorySampler) -> dict:
    """The dev split through the model, its metrics, and (thousands of codes) the serving
    candidates training would choose there (``candidates.choose_count``; the export serves them)."""
    import keras

    from jlan_tf import metrics
    from jlan_tf.candidates import choose_count, first_stage_scores, suggested_candidates
    from jlan_tf.data.prepared import load_prepared
    from jlan_tf.training import predict_split

    data, config = load_prepared(work / "prepared"), _config(options)
    start = time.perf_counter()
    model = keras.models.load_model(work / "run" / "model.keras")
    scores, y_true = predict_split(model, data, "dev", config.data.eval_batch_size)
    threshold = metrics.tune_threshold(y_true, scores)
    result = metrics.all_metrics(y_true, scores, threshold)
    choice = None
    if suggested_candidates(model):
        first_stage = first_stage_scores(model, data, "dev", config.data.eval_batch_size)
        choice = choose_count(scores, first_stage, y_true, threshold)
    (work / "candidates.json").write_text(json.dumps(choice))
    return {"stages": {"evaluate_dev": {"seconds": time.perf_counter() - start, "notes": len(y_true),
                                        "dev_map": result["map"]}},
            **({"report": {"candidates_chosen_on_dev": choice}} if choice else {})}


def export(work: Path, options: dict, sampler: MemorySampler) -> dict:
    import keras

    from jlan_tf.candidates import suggested_candidates
    from jlan_tf.serving import export_model

    prepared, config = work / "prepared", _config(options)
    for folder in ("full", "candidates"):  # a stage run again (--only) writes afresh
        shutil.rmtree(work / "export" / folder, ignore_errors=True)
    start = time.perf_counter()
    model = keras.models.load_model(work / "run" / "model.keras")
    target = export_model(model, prepared / "vocab.txt", prepared / "labels.tsv", config.data.max_tokens,
                          work / "export" / "full", version=1)
    size = disk_mb(target)
    seconds = time.perf_counter() - start
    # The same model on first-stage candidates, its latency measured beside every code's: the
    # count chosen on dev (what the default export serves), else SUGGESTED_CANDIDATES as an option.
    chosen = work / "candidates.json"
    choice = json.loads(chosen.read_text()) if chosen.exists() else None
    candidates = (choice or {}).get("chosen") or suggested_candidates(model)
    if candidates:
        export_model(model, prepared / "vocab.txt", prepared / "labels.tsv", config.data.max_tokens,
                     work / "export" / "candidates", version=1, candidates=candidates)
    return {"stages": {"export": {"seconds": seconds, "disk_mb": size}},
            "report": {"savedmodel_dir": str(target), "savedmodel_mb": size, "serve_candidates": candidates,
                       "serve_candidates_by_default": bool((choice or {}).get("chosen"))}}


def _latencies(path: Path, notes: list[str]) -> list[float]:
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    serve(text=tf.constant(notes[:1]))  # warm-up
    times = []
    for note in notes:
        begin = time.perf_counter()
        serve(text=tf.constant([note]))
        times.append(1000 * (time.perf_counter() - begin))
    return times


def serve(work: Path, options: dict, sampler: MemorySampler) -> dict:
    """Single notes of 2,500 words through the SavedModel, then the same through a model of
    50 codes (MIMIC-III-50's label count, random weights, the same vocabulary)."""
    import numpy as np

    from jlan_tf.config import Config
    from jlan_tf.serving import export_model
    from jlan_tf.studies.bench import random_model

    prepared, config = work / "prepared", _config(options)
    words = (prepared / "vocab.txt").read_text().split("\n")[2:]
    rng = np.random.default_rng(0)
    notes = [" ".join(rng.choice(words, SERVE_TOKENS)) for _ in range(options["requests"])]
    start = time.perf_counter()
    full = _latencies(work / "export" / "full" / "1", notes)
    seconds = time.perf_counter() - start
    with_candidates = work / "export" / "candidates" / "1"
    candidates = _latencies(with_candidates, notes) if with_candidates.exists() else None
    small_config = Config().apply_overrides(options["overrides"])
    small = random_model(small_config, len(words) + 2, 50, rng, compile=False)
    labels50 = work / "labels50.tsv"
    labels50.write_text("".join(f"C{i:05d}\tcode {i}\t1\n" for i in range(50)))
    shutil.rmtree(work / "export" / "top50", ignore_errors=True)
    target = export_model(small, prepared / "vocab.txt", labels50, config.data.max_tokens, work / "export" / "top50",
                          version=1)
    top50 = _latencies(target, notes)
    p = lambda values, q: float(np.percentile(values, q))
    return {"stages": {"serve": {"seconds": seconds, "requests": len(notes)}},
            "report": {"serve_p50_ms": p(full, 50), "serve_p95_ms": p(full, 95),
                       "serve_p50_ms_top50": p(top50, 50), "serve_p95_ms_top50": p(top50, 95),
                       **({"serve_p50_ms_candidates": p(candidates, 50)} if candidates else {})}}


def main(argv: list[str]) -> int:
    stage, work, options = argv[0], Path(argv[1]), json.loads(argv[2])
    logs.setup(-1, tensorflow=stage not in ("corpus",))  # warnings only; TensorFlow's noise filtered
    sampler = MemorySampler()
    figures = globals()[stage](work, options, sampler)
    sampler.sample()
    own, tree = sampler.peaks["all"]
    for values in figures["stages"].values():
        values.setdefault("peak_tree_rss_mb", tree / 1024)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
