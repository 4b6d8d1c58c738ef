"""Every model on one dataset, in one harness: JLAN, CAML, MultiResCNN, LAAT and JointLAAT (each with
its published settings, ``config.PRESETS``; CAML also at learning rate 1e-3) over --seeds
seeds, and TF-IDF + LR (deterministic,
one fit), on the same prepared data, split, vocabulary, word vectors and metric code.

    python experiments/compare.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50 --seeds 3
    python experiments/compare.py --seeds 3                      # the synthetic corpus, small

Writes OUT/table.{md,csv} (test metrics, mean ± sd over seeds, and each model's training
minutes per run), OUT/paired_{dev,test}.md (paired differences to JLAN, or --reference; left out
when --variants leaves the reference out), OUT/compare.png.
Finished runs under OUT/runs are reused, so --only-seeds can split the work over processes.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from jlan_tf.studies.runs import parse_args, report_dir, run_all
from jlan_tf.studies.tables import bar_chart, write_paired_table, write_table

MODELS = {"JLAN": [], "CAML": ["preset=caml"], "MultiResCNN": ["preset=multirescnn"], "LAAT": ["preset=laat"],
          "JointLAAT": ["preset=jointlaat"],
          # The published learning rate (1e-4) was set for MIMIC-III's 8k-47k notes; on a few
          # hundred notes CAML is still improving when the epoch limit comes: the same at 1e-3.
          "CAML lr=1e-3": ["preset=caml", "train.learning_rate=1e-3"]}
LR = "TF-IDF + LR"


def main(argv=None) -> int:
    args = parse_args(argv, __doc__, "compare")
    results = run_all(args, MODELS)
    if not all(results.values()):
        raise SystemExit("no seed has finished runs of every model yet")
    out = report_dir(args)
    minutes = {name: {"train_minutes": [sum(e.get("seconds", 0.0) for e in r["epochs"]) / 60 for r in runs]}
               for name, runs in results.items()}
    reference = args.reference or "JLAN"
    if reference in results:
        for block in ("dev", "test"):
            print(write_paired_table(results, out, reference, block))
    else:
        print(f"no paired tables: the reference {reference!r} is not among --variants (see --reference)")

    from jlan_tf.studies.lr_baseline import fit_and_score
    from jlan_tf.data.prepared import load_prepared
    from jlan_tf.run_folder import RunFolder

    runs = (RunFolder(p) for p in sorted((Path(args.out) / "runs").iterdir()))
    first_run = next(run for run in runs if run.data_info.exists())  # every run read the same prepared data
    lr = fit_and_score(load_prepared(first_run.read("data")["path"]))
    with_lr = {**results, LR: [{"dev": lr["dev"], "test": lr["test"], "epochs": []}]}
    minutes[LR] = {"train_minutes": [float("nan")]}
    print(write_table(with_lr, out, extra=minutes))
    bar_chart(with_lr, out / "compare.png", metrics=("micro_f1", "macro_auc", "map"),
              title=f"Models on {args.dataset} (test)")
    for name, runs in results.items():
        epochs = [len(r["epochs"]) for r in runs]
        print(f"{name}: {len(runs)} runs, epochs {epochs}, "
              f"training {statistics.fmean(minutes[name]['train_minutes']):.1f} min a run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
