"""The paper's ablation (its figure 6) and convergence curves (figures 7 and 8).

Variants: label attention only (L), self-attention only (S), both summed without learned
weights (L+S), joint fusion (J), and joint fusion with the truncation loss (J+D), as the paper
has them; and the forms that give the two ideas a fair chance (issue 12): J2 = joint fusion
scaled to equal L+S at initialisation with per-label gate biases, J2+D = J2 with the paper's
truncation loss, J2+D* = J2 with the reworked denoising (relative ranking, burn-in, lower
D_max, stochastic rounding); J2+D*+EMA = J2+D* evaluated and kept as the moving average of its
weights (train.ema_momentum=0.99), L+S+EMA the plain sum with it, J2+D*+EMA+FE the
defaults with the word vectors frozen (model.train_embeddings=false), J2+D*+EMA+Adam the
same with Adam as written instead of Keras 3's reading (study.optimizer=adam); J2+D*+EMA+U128
and +U64 the defaults with 128 or 64 LSTM units per direction instead of 256; J2+D*+EMA+SS the
defaults with a shared output scorer (study.output_shared_scorer), J2+D*+EMA+DS with output
weights drawn from the code descriptions (model.output_description_scorer), J2+D*+EMA995 the
defaults with a longer moving average (momentum 0.995 instead of 0.99); L+S+EMA+DS and
J2+EMA+DS the plain sum and joint fusion without denoising, both with the description scorer
(the two ideas measured one at a time under the defaults); J2+D*+EMA+DS+WD the defaults with
decoupled weight decay (train.weight_decay=1: a weight no gradient holds up shrinks by about a
third over 400 steps, pulling each code's own output part E_j towards the description-based
weights); L+S+EMA+DS+WD the plain sum and plain BCE under those defaults;
J2+D*+EMA+DS+WD+LX those defaults with TF-IDF + linear scores added to the logits
(model.lexical_output), J2+D*+EMA+DS+WD+LX30 the same with study.lexical_scale=30,
J2+D*+EMA+DS+WD+LXLR with the TF-IDF part fixed at TF-IDF + LR's fit (study.lexical_init=lr,
study.lexical_trainable=false), the defaults now; L+S+EMA+DS+WD+LXLR the plain sum and plain
BCE with the same part; J2+D*+EMA+DS+WD+LXLR+N the defaults with negatives dropped too
(train.d_max_negatives=0.1). Each over --seeds model seeds (default 5); OUT/paired_{dev,test}.md
hold the paired differences to L+S with their 95 % intervals. Writes OUT/table.{md,csv} (test metrics, mean ± std), OUT/ablation.png,
OUT/convergence_fusion.png (J vs L+S), OUT/convergence_truncation.png (J+D vs J) and the
curves of every variant for TensorBoard under OUT/tensorboard.

    python experiments/ablation.py                                   # synthetic, small: ~25 min on 2 cores
    python experiments/ablation.py --dataset codiesp --data-dir ../shared/data/codiesp --top-codes 50
                                                                     # CodiEsp-50, 15 epochs: ~45 min
    python experiments/ablation.py --dataset top50 --full --seeds 3  # MIMIC-III-50 at the paper's scale
"""

import sys

from jlan_tf.studies.runs import AS_RECORDED, PAPER, report_dir, sweep
from jlan_tf.studies.tables import curves

# Every variant as the 5-seed study ran it (AS_RECORDED); the later variants below add the defaults back.
VARIANTS = {name: overrides + AS_RECORDED for name, overrides in {
    "L": ["model.fusion=label_only", "train.d_max=0"],
    "S": ["model.fusion=self_only", "train.d_max=0"],
    "L+S": ["model.fusion=sum", "train.d_max=0"],
    "J": PAPER + ["model.fusion=joint", "train.d_max=0"],
    "J+D": PAPER + ["model.fusion=joint"],
    "J2": ["model.fusion=joint", "study.fusion_scale=2", "study.fusion_label_bias=true", "train.d_max=0"],
    "J2+D": ["model.fusion=joint", "study.fusion_scale=2", "study.fusion_label_bias=true", "train.d_max=0.15"],
    "J2+D*": ["model.fusion=joint", "study.fusion_scale=2", "study.fusion_label_bias=true", "train.d_max=0.1",
              "study.drop_rank=relative", "train.burn_in_epochs=4", "train.warmup_epochs=2",
              "study.drop_rounding=stochastic"],
}.items()}
# J2+D* with the weights' moving average: the defaults until the description scorer (README,
# issue 12; J2+D*+EMA+DS+WD below is the defaults now); the plain sum with it (do the two ideas pay
# under the average?); and J2+D*+EMA with frozen word vectors.
VARIANTS["J2+D*+EMA"] = VARIANTS["J2+D*"] + ["train.ema_momentum=0.99"]
VARIANTS["L+S+EMA"] = VARIANTS["L+S"] + ["train.ema_momentum=0.99"]
VARIANTS["J2+D*+EMA+FE"] = VARIANTS["J2+D*+EMA"] + ["model.train_embeddings=false"]
# The defaults with Adam as written instead of Keras 3's reading of it (study.optimizer=adam;
# dev kept Keras 3's: README, Training, "Optimizer").
VARIANTS["J2+D*+EMA+Adam"] = VARIANTS["J2+D*+EMA"] + ["study.optimizer=adam"]
# The defaults with a smaller BiLSTM (the paper's 256 per direction was sized for MIMIC-III's
# 8k-47k notes): does a model sized for 400 notes rank the rarer codes better?
VARIANTS["J2+D*+EMA+U128"] = VARIANTS["J2+D*+EMA"] + ["model.lstm_units=128"]
VARIANTS["J2+D*+EMA+U64"] = VARIANTS["J2+D*+EMA"] + ["model.lstm_units=64"]
# The defaults with a shared output scorer (label weights = a shared vector + per-label offsets
# from 0, study.output_shared_scorer): can the rarer codes borrow a scorer from the frequent ones?
VARIANTS["J2+D*+EMA+SS"] = VARIANTS["J2+D*+EMA"] + ["study.output_shared_scorer=true"]
# ... or from the codes with similar descriptions (model.output_description_scorer)?
VARIANTS["J2+D*+EMA+DS"] = VARIANTS["J2+D*+EMA"] + ["model.output_description_scorer=true"]
# The two ideas one at a time under the defaults (description scorer and average on): neither
# (L+S+EMA+DS), joint fusion alone (J2+EMA+DS), both (J2+D*+EMA+DS, the defaults).
VARIANTS["L+S+EMA+DS"] = VARIANTS["L+S+EMA"] + ["model.output_description_scorer=true"]
VARIANTS["J2+EMA+DS"] = VARIANTS["J2"] + ["train.ema_momentum=0.99", "model.output_description_scorer=true"]
# The defaults with weight decay: do the rarer codes' own output parts (E_j) overfit their few notes?
VARIANTS["J2+D*+EMA+DS+WD"] = VARIANTS["J2+D*+EMA+DS"] + ["train.weight_decay=1"]
# ... and neither idea with it: the two ideas against the plain sum and BCE under the defaults of now.
VARIANTS["L+S+EMA+DS+WD"] = VARIANTS["L+S+EMA+DS"] + ["train.weight_decay=1"]
# The defaults with TF-IDF + linear scores added to the logits (model.lexical_output): do the codes
# with few notes get LR's lexical match inside the model?
# (every TF-IDF part of the recorded studies had the dense kernel: model.lexical_words=0)
VARIANTS["J2+D*+EMA+DS+WD+LX"] = VARIANTS["J2+D*+EMA+DS+WD"] + ["model.lexical_output=true", "model.lexical_words=0",
                                                                 "study.lexical_init=zeros",
                                                                 "study.lexical_trainable=true"]
# ... with the TF-IDF part learning 3x faster (study.lexical_scale=30): does it take more of what LR
# learns from codes with one to four notes before the network fits them?
VARIANTS["J2+D*+EMA+DS+WD+LX30"] = VARIANTS["J2+D*+EMA+DS+WD+LX"] + ["study.lexical_scale=30"]
# ... with the TF-IDF part started as TF-IDF + LR's fit and kept there (study.lexical_init=lr,
# study.lexical_trainable=false): a network that learns what LR misses (a stacked model).
VARIANTS["J2+D*+EMA+DS+WD+LXLR"] = VARIANTS["J2+D*+EMA+DS+WD+LX"] + ["study.lexical_init=lr",
                                                                      "study.lexical_trainable=false"]
# The plain sum and plain BCE with the same fixed part: the two ideas under the defaults of now.
VARIANTS["L+S+EMA+DS+WD+LXLR"] = VARIANTS["L+S+EMA+DS+WD"] + ["model.lexical_output=true", "model.lexical_words=0",
                                                                "study.lexical_init=lr",
                                                                "study.lexical_trainable=false"]
# ... with 128 words per code instead of every word (model.lexical_words=128, the default since the
# TF-IDF part had to fit MIMIC-III-full: jlan_tf.lexical_fit): does the smaller part keep the quality?
VARIANTS["J2+D*+EMA+DS+WD+LXLR128"] = VARIANTS["J2+D*+EMA+DS+WD+LXLR"] + ["model.lexical_words=128"]
# The defaults with negatives dropped too (train.d_max_negatives=0.1: the codes a coder most likely
# missed, a tenth of the batch's positives at most).
VARIANTS["J2+D*+EMA+DS+WD+LXLR+N"] = VARIANTS["J2+D*+EMA+DS+WD+LXLR"] + ["train.d_max_negatives=0.1"]
# The average over about twice as many steps (~200, 8 CodiEsp epochs): more of a seed ensemble's
# variance reduction, or only more lag?
VARIANTS["J2+D*+EMA995"] = VARIANTS["J2+D*"] + ["train.ema_momentum=0.995"]


def main(argv=None) -> int:
    args, results = sweep(argv, __doc__, "ablation", VARIANTS, "Ablation", reference="L+S")
    out = report_dir(args)
    for names, file, title in ((["L+S", "J", "J2"], "convergence_fusion.png", "With and without joint fusion"),
                               (["J", "J+D", "J2", "J2+D", "J2+D*"], "convergence_truncation.png",
                                "With and without the truncation loss")):
        names = [n for n in names if n in results]
        if names:
            curves(results, names, out / file, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
