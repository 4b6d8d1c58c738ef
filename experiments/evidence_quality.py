"""Evidence quality: do the words a model shows for a code fall in the span a coder marked?

    python experiments/train.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50 --lang es
    python experiments/evidence_quality.py --run runs/RUN [--run runs/RUN2 ...] --out results/evidence_quality \\
        --texts ../shared/data/codiesp/dev/text_files

The runs' prepared data must hold gold evidence (``S.evidence.npy``: CodiEsp with
``--lang es``). For each gold (note, code) pair of the split that a run predicts
(probability >= 0.5; ``--pairs gold``: every gold pair), the note's tokens are ranked five
ways and each ranking is scored against the coder's span with ``metrics.evidence_scores``:

- ``fused``: the weights the ``explain`` signature shows (joint fusion's mix of the two maps);
- ``contribution``: each token's first-order share of the code's logit, its fused weight times
  ``h_t . dlogit/dV`` (``jlan_tf.attribution``): attention that also says which way a token
  pushes the score;
- ``input``: gradient x input at the word vectors, ``e_t . dlogit/de_t`` (``jlan_tf.attribution``):
  the word itself rather than its contextual feature;
- ``attention_input``: the fused weight times ``input`` (after Edin et al. 2024's AttInGrad);
- ``occlusion``: the fall of the code's logit when the token is deleted (``jlan_tf.attribution``),
  measured for the note's ``OCCLUSION_CANDIDATES`` best tokens by contribution of each scored
  code (the other tokens follow in contribution order): a measurement, not a linearisation;
- ``self`` / ``label``: self-attention / label attention alone;
- ``lr``: TF-IDF + logistic regression (fitted here on the same training split): the code's
  coefficient for the token's word times the word's TF-IDF weight in the note;
- ``lexicon``: the span lexicon of ``baseline_spans.py`` (built from the training split's coder
  spans): each token's best precision among the code's training phrases that cover it;
- ``random``: a seeded random ranking (the mean of 20 draws).

Writes ``table.md`` (mean ± sd over runs; the paired difference of fused to lr and to random
with a 95 % bootstrap interval over notes; where fused fails, by code and by span kind),
``results.json`` and ``evidence_quality.png`` to ``--out``. With ``--texts`` (the folder of
the split's ``ID.txt`` notes) it also writes ``evidence_examples.html`` into the first run's folder:
one hit and one miss, gold span underlined, top-5 fused tokens marked. That page quotes the
notes, so it stays in the run folder (never committed, never logged).

With ``--against RUN`` (as many as ``--run``, the same seeds in the same order) it also scores
those runs and adds a table of paired differences by seed, ``--run`` minus ``--against``, for
the evidence of ``fused`` and ``contribution`` and for the runs' coding metrics on the split
(mean and 95 % t-interval over seeds): how a training change (e.g. ``train.evidence_weight``)
moves the evidence and what it costs the codes. ``--no-extra-passes`` skips the rankings
that cost extra model passes (``EXTRA_PASSES``: about two thirds of the time).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from jlan_tf import metrics  # noqa: E402
from jlan_tf.data.prepared import DataError, PreparedDataset, load_prepared  # noqa: E402
from jlan_tf.run_folder import RunFolder  # noqa: E402
from jlan_tf.tokenization import UNK_ID, token_spans  # noqa: E402

RANKERS = ("fused", "contribution", "input", "attention_input", "occlusion", "self", "label", "lr", "lexicon", "random")
EXTRA_PASSES = ("input", "attention_input", "occlusion")  # gradients per code, a forward pass per token
OCCLUSION_CANDIDATES = 16
RANDOM_DRAWS = 20
KEYS = metrics.EVIDENCE_REPORTED


def _maps(model, data: PreparedDataset, split: str, batch_size: int = 16):
    """Per document: (index, probabilities (L,), self (L, n), label (L, n), fusion weights (L, 2),
    contributions (L, n))."""
    import keras

    from jlan_tf.attribution import contributions_from, probe_model
    from jlan_tf.data.pipeline import eval_order

    probe = probe_model(model)  # the model's outputs plus what the contributions need: one forward pass

    part = data.splits[split]
    order = eval_order(part)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        lengths = part.lengths[rows]
        x = np.zeros((len(rows), -(-lengths.max() // 64) * 64), np.int32)  # few shapes: few retracings
        for r, d in enumerate(rows):
            x[r, :lengths[r]] = part.tokens[part.offsets[d]:part.offsets[d + 1]]
        h, v, outputs = probe({"tokens": x}, training=False)
        contributions = keras.ops.convert_to_numpy(contributions_from(model, x, h, v, outputs)[1])
        out = {k: keras.ops.convert_to_numpy(t) for k, t in outputs.items()}
        for r, d in enumerate(rows):
            n = lengths[r]
            yield (int(d), 1 / (1 + np.exp(-out["logits"][r])), out["self_attention"][r, :, :n],
                   out["label_attention"][r, :, :n], out["fusion_weights"][r], contributions[r, :, :n])


def gold_evidence(data: PreparedDataset, split: str) -> dict[tuple[int, int], np.ndarray]:
    """(document, label) -> gold token positions."""
    if data.splits[split].evidence is None:
        raise DataError(f"{data.path}: no gold evidence for {split} (prepare CodiEsp with --lang es)")
    return data.splits[split].evidence_by_pair()


def score_run(run_dir: Path, split: str, pairs: str, baseline_cache: dict,
              rankers: tuple[str, ...] = RANKERS) -> tuple[list[dict], PreparedDataset]:
    """One record per scored (note, code) pair: its ids, span facts and the scores of ``rankers``
    (``EXTRA_PASSES`` cost extra model passes)."""
    import keras

    from jlan_tf.linear import FittedLR
    from jlan_tf.studies.span_lexicon import SpanLexicon
    import jlan_tf.model  # noqa: F401  (registers JLAN's layers for loading)
    from jlan_tf.attribution import input_contributions, occlusion

    run = RunFolder(run_dir)
    data_path = Path(run.read("data")["path"])
    data = load_prepared(data_path)
    gold = gold_evidence(data, split)
    if data_path not in baseline_cache:
        fitted = FittedLR(data)
        lexicon = SpanLexicon(data) if "lexicon" in rankers else None
        baseline_cache[data_path] = (fitted.coefficients(), fitted.features(split).tocsr(), lexicon)
    coef, tfidf, lexicon = baseline_cache[data_path]
    part = data.splits[split]
    model = keras.models.load_model(run.model)
    rng = np.random.default_rng(0)
    records = []
    for d, probs, a_self, a_label, weights, contributions in _maps(model, data, split):
        words = part.tokens[part.offsets[d]:part.offsets[d + 1]]
        candidates = np.flatnonzero(probs >= 0.5) if pairs == "correct" else range(data.num_labels)
        labels = [int(label) for label in candidates if (d, int(label)) in gold]
        if not labels:
            continue
        if {"input", "attention_input"} & set(rankers):
            inputs = dict(zip(labels, input_contributions(model, words[None], labels)))
        if "occlusion" in rankers:
            candidates = sorted({int(t) for label in labels for t in np.argsort(-contributions[label])[:OCCLUSION_CANDIDATES]})
            width = -(-len(words) // 64) * 64  # few shapes: few retracings
            falls = occlusion(model, np.pad(words, (0, width - len(words)))[None], candidates)
        for label in labels:
            positions = gold[(d, label)]
            fused = weights[label, 0] * a_self[label] + weights[label, 1] * a_label[label]
            c = contributions[label]
            rankings = {"fused": lambda: fused, "contribution": lambda: c, "input": lambda: inputs[label],
                        "attention_input": lambda: fused * inputs[label], "occlusion": lambda: _occluded(c, falls[:, label], candidates),
                        "self": lambda: a_self[label], "label": lambda: a_label[label],
                        "lr": lambda: coef[label, words] * tfidf[d, words].toarray()[0],
                        "lexicon": lambda: lexicon.evidence(words, label)}
            record = {"document": d, "code_index": label, "tokens": len(words), "span_tokens": len(positions)}
            for name in rankers:
                if name in rankings:
                    record[name] = metrics.evidence_scores(rankings[name](), positions)
            if "random" in rankers:
                draws = [metrics.evidence_scores(rng.random(len(words)), positions) for _ in range(RANDOM_DRAWS)]
                record["random"] = {k: float(np.mean([s[k] for s in draws])) for k in draws[0]}
            gold_words = set(words[positions].tolist()) - {UNK_ID}
            top5 = np.argsort(-fused, kind="stable")[:5]
            record["top5"] = top5.tolist()
            record["fused_word_hit_at_3"] = float(bool(gold_words & set(words[top5[:3]].tolist())))
            records.append(record)
    return records, data


def _occluded(c: np.ndarray, falls: np.ndarray, candidates: list[int]) -> np.ndarray:
    """The occlusion ranking: the candidates by their logit's fall, every other token below them
    in contribution order."""
    occluded = c - c.max() + falls.min() - 1.0
    occluded[candidates] = falls
    return occluded


def _bootstrap_diff(records: list[dict], a: str, b: str, key: str, draws: int = 2000) -> tuple[float, float, float]:
    """Mean of a - b over pairs, with a 95 % interval from resampling notes (their pairs together)."""
    docs = sorted({r["document"] for r in records})
    per_doc = {d: [] for d in docs}
    for r in records:
        per_doc[r["document"]].append(r[a][key] - r[b][key])
    sums = np.array([sum(per_doc[d]) for d in docs])
    counts = np.array([len(per_doc[d]) for d in docs])
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(docs), (draws, len(docs)))
    stats = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return float(sums.sum() / counts.sum()), float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


def _mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"


def report(per_run: list[list[dict]], data: PreparedDataset, split: str, pairs: str,
           run_metrics: list[dict]) -> tuple[str, dict]:
    pooled = [r for records in per_run for r in records]
    rankers = [name for name in RANKERS if name in pooled[0]]
    summary = {name: {k: [float(np.mean([r[name][k] for r in records])) for records in per_run] for k in KEYS}
               for name in rankers}
    coding = ["The runs' own coding quality on the same split (metrics.json), mean ± sd:", "",
              "| " + " | ".join(metrics.REPORTED) + " |", "|---" * len(metrics.REPORTED) + "|",
              "| " + " | ".join(_mean_sd([m[split][k] for m in run_metrics]) for k in metrics.REPORTED) + " |", ""]
    lines = coding + [f"Evidence quality, {split} split, {len(per_run)} run(s), pairs: {pairs} "
             f"({', '.join(str(len(r)) for r in per_run)} scored (note, code) pairs per run). Mean ± sd over runs.", "",
             "| ranking | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    for name in rankers:
        lines.append(f"| {name} | " + " | ".join(_mean_sd(summary[name][k]) for k in KEYS) + " |")
    lines += ["", "Paired differences (pairs of all runs pooled; 95 % bootstrap interval over notes):", "",
              "| difference | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    diffs = {}
    for first, other in (("fused", "lr"), ("fused", "lexicon"), ("fused", "random"), ("fused", "self"), ("fused", "label"),
                         ("contribution", "lr"), ("contribution", "fused"), ("input", "contribution"),
                         ("attention_input", "contribution"), ("occlusion", "contribution"), ("input", "lr"),
                         ("attention_input", "lr")):
        if first not in rankers or other not in rankers:
            continue
        cells = [_bootstrap_diff(pooled, first, other, k) for k in KEYS]
        diffs[f"{first}-{other}"] = dict(zip(KEYS, cells))
        lines.append(f"| {first} − {other} | " + " | ".join(f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, lo, hi in cells) + " |")

    lines += ["", "Where fused evidence fails (pooled pairs): hit@3 by span length and by code.", "",
              "| gold span | pairs | fused hit@3 | lr hit@3 | fused: a top-3 token has a gold word (any position) |",
              "|---|---|---|---|---|"]
    for name, lo, hi in (("1 token", 1, 1), ("2-3 tokens", 2, 3), ("4+ tokens", 4, 10**9)):
        group = [r for r in pooled if lo <= r["span_tokens"] <= hi]
        if group:
            lines.append(f"| {name} | {len(group)} | {np.mean([r['fused']['hit_at_3'] for r in group]):.3f} | "
                         f"{np.mean([r['lr']['hit_at_3'] for r in group]):.3f} | "
                         f"{np.mean([r['fused_word_hit_at_3'] for r in group]):.3f} |")
    by_code = {}
    for r in pooled:
        by_code.setdefault(r["code_index"], []).append(r)
    ranked = sorted(((np.mean([r["fused"]["hit_at_3"] for r in g]), code, len(g)) for code, g in by_code.items()
                     if len(g) >= 3), key=lambda t: (t[0], t[1]))
    lines += ["", "| code (3+ pairs) | description | pairs | fused hit@3 | lr hit@3 |", "|---|---|---|---|---|"]
    for hit, code, n in ranked[:6] + [(None, None, None)] + ranked[-6:] if len(ranked) > 12 else ranked:
        if code is None:
            lines.append("| ... | | | | |")
            continue
        lr_hit = np.mean([r["lr"]["hit_at_3"] for r in by_code[code]])
        lines.append(f"| {data.codes[code]} | {data.descriptions[code]} | {n} | {hit:.3f} | {lr_hit:.3f} |")
    return "\n".join(lines) + "\n", {"runs": summary, "differences": diffs}


def paired_by_seed(per_run: list[list[dict]], against: list[list[dict]], run_metrics: list[dict],
                   against_metrics: list[dict], split: str) -> tuple[str, dict]:
    """Markdown and its numbers: per evidence measure (fused, contribution) and coding metric, the
    mean of ``--run`` minus ``--against`` over seeds with its 95 % t-interval."""
    from jlan_tf.studies.tables import paired_difference

    rows = {}
    for name in ("fused", "contribution"):
        for k in KEYS:
            rows[f"{name} {k}"] = paired_difference([np.mean([r[name][k] for r in records]) for records in per_run],
                                                    [np.mean([r[name][k] for r in records]) for records in against])
    for k in metrics.REPORTED:
        rows[f"coding {k}"] = paired_difference([m[split][k] for m in run_metrics], [m[split][k] for m in against_metrics])
    lines = ["", f"Paired by seed, --run minus --against ({len(per_run)} seeds; 95 % t-interval), {split} split:", "",
             "| measure | difference |", "|---|---|"]
    lines += [f"| {name} | {m:+.3f} [{lo:+.3f}, {hi:+.3f}] |" for name, (m, lo, hi) in rows.items()]
    return "\n".join(lines) + "\n", {name: list(cell) for name, cell in rows.items()}


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(summary)
    for i, name in enumerate(summary):
        means = [np.mean(summary[name][k]) for k in KEYS]
        sds = [np.std(summary[name][k], ddof=1) if len(summary[name][k]) > 1 else 0 for k in KEYS]
        ax.bar(np.arange(len(KEYS)) + i * width, means, width, yerr=sds, label=name)
    ax.set_xticks(np.arange(len(KEYS)) + 0.4 - width / 2, KEYS)
    ax.set_ylabel("mean over pairs")
    ax.set_title("Evidence vs the coders' spans")
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_examples(records: list[dict], data: PreparedDataset, split: str, texts: Path, out: Path) -> None:
    """One hit (fused hit@1) and one miss (fused hit@3 = 0): gold underlined, top-5 fused marked."""
    hit = next((r for r in records if r["fused"]["hit_at_1"] == 1.0), None)
    miss = next((r for r in records if r["fused"]["hit_at_3"] == 0.0), None)
    gold = gold_evidence(data, split)
    blocks = []
    for title, r in (("hit", hit), ("miss", miss)):
        if r is None:
            continue
        doc_id = data.splits[split].ids[r["document"]]
        text = (texts / f"{doc_id}.txt").read_text(encoding="utf-8")
        spans = token_spans(text, max_tokens=None)
        if spans is None:
            continue
        top = set(r["top5"])
        gold_positions = set(gold[(r["document"], r["code_index"])].tolist())
        parts, cursor = [], 0
        for p, (s, e) in enumerate(spans[:r["tokens"]]):
            if p in top or p in gold_positions:
                style = ("background:#ffb347;" if p in top else "") + ("text-decoration:underline 2px;" if p in gold_positions else "")
                parts += [html.escape(text[cursor:s]), f'<span style="{style}">{html.escape(text[s:e])}</span>']
                cursor = e
        parts.append(html.escape(text[cursor:]))
        blocks.append(f"<h2>{title}: {html.escape(doc_id)}, {html.escape(data.codes[r['code_index']])} "
                      f"({html.escape(data.descriptions[r['code_index']])})</h2><p style='white-space:pre-wrap'>{''.join(parts)}</p>")
    out.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>evidence examples</title></head><body>"
                   "<p>Underlined: the coder's span. Orange: the model's top-5 evidence tokens.</p>"
                   + "\n".join(blocks) + "</body></html>\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="a run folder (repeat for several seeds)")
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--pairs", default="correct", choices=["correct", "gold"])
    parser.add_argument("--out", default="results/evidence_quality")
    parser.add_argument("--against", action="append", default=[],
                        help="runs to compare with, seed by seed (repeat; same order as --run)")
    parser.add_argument("--no-extra-passes", action="store_true",
                        help=f"skip the rankings that cost extra model passes ({', '.join(EXTRA_PASSES)})")
    parser.add_argument("--texts", help="folder of the split's notes as ID.txt, for examples.html")
    args = parser.parse_args(argv)
    rankers = tuple(n for n in RANKERS if not (args.no_extra_passes and n in EXTRA_PASSES))
    if args.against and len(args.against) != len(args.run):
        parser.error("give as many --against runs as --run runs (paired by seed)")
    per_run, against, baseline_cache, data = [], [], {}, None
    try:
        for runs, into in ((args.run, per_run), (args.against, against)):
            for run in runs:
                records, data = score_run(Path(run), args.split, args.pairs, baseline_cache, rankers)
                if not records:
                    raise DataError(f"{run}: no (note, code) pair to score")
                into.append(records)
    except DataError as e:
        print(f"evidence_quality.py: error: {e}", file=sys.stderr)
        return 2
    run_metrics = [RunFolder(run).read("metrics") for run in args.run]
    table, result = report(per_run, data, args.split, args.pairs, run_metrics)
    if against:
        paired, result["paired_by_seed"] = paired_by_seed(
            per_run, against, run_metrics, [RunFolder(r).read("metrics") for r in args.against], args.split)
        table += paired
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table)
    (out / "results.json").write_text(json.dumps({"split": args.split, "pairs": args.pairs, "runs": args.run,
                                                  **result}, indent=2) + "\n")
    plot(result["runs"], out / "evidence_quality.png")
    if args.texts:
        write_examples(per_run[0], data, args.split, Path(args.texts), Path(args.run[0]) / "evidence_examples.html")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
