"""How word2vec's epochs shape the vectors of a prepared dataset's training split: per number of
epochs, the median vector norm, the mean cosine between random word pairs (near 1: every
vector points the same way), and a probe word's nearest neighbours.

    python experiments/word2vec_epochs.py data/codiesp_en_D_top50 --epochs 5 13 44 --word diabetes

The figures behind the word2vec-epochs rule in jlan_tf/data/word2vec.py (README, Data).
"""

import argparse
import sys

import numpy as np

from jlan_tf.data.prepared import load_prepared
from jlan_tf.data.word2vec import train_word2vec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prepared", help="a prepared dataset folder")
    p.add_argument("--epochs", type=int, nargs="+", default=[5, 13, 44])
    p.add_argument("--word", default="diabetes", help="probe word for nearest neighbours")
    args = p.parse_args(argv)
    data = load_prepared(args.prepared)
    train = data.splits["train"]
    print(f"{args.prepared}: {len(train.tokens):,} training tokens, {len(data.vocab):,} words")
    pairs = np.random.default_rng(0).integers(0, len(data.vocab) - 2, (2, 2000))
    for epochs in args.epochs:
        wv = train_word2vec(data.vocab, train, data.embeddings.shape[1], epochs, seed=0).wv
        norms = np.linalg.norm(wv.vectors, axis=1)
        unit = wv.vectors / norms[:, None]
        cosine = float(np.mean(np.sum(unit[pairs[0]] * unit[pairs[1]], axis=1)))
        near = ", ".join(f"{w} {c:.3f}" for w, c in wv.most_similar(args.word, topn=4)) if args.word in wv else "-"
        print(f"{epochs:3d} epochs: median norm {np.median(norms):.2f}  "
              f"mean cosine of random pairs {cosine:.3f}  nearest to {args.word!r}: {near}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
