"""One typed config; ``--set section.key=value`` overrides.

Sections a user sets: ``data`` (what to train on), ``model`` (the network), ``train``
(optimisation and the truncation loss's main settings). The ``study`` section holds switches
that exist for one study or one reading of the paper (the forms the README's studies
compared); they are settable and saved like the rest, but a user training a coder need not
read them.

Defaults: the paper's architecture and sizes; for its two ideas, the forms chosen on dev in
the 5-seed CodiEsp-50 studies (joint fusion scaled by 2 with per-label gate biases; the
truncation loss with relative ranking, burn-in, D_max 0.1, stochastic rounding; early
stopping on dev MAP), the weights' moving average, output weights drawn from the code
descriptions, decoupled weight decay and the TF-IDF + LR part, each chosen on dev the same
way. The paper's form: ``--set preset=jlan_paper`` (``PRESETS``); the baselines' presets keep
their published settings.

Unknown keys are an error; values are parsed to the field's type. The resolved config is
saved with every run as ``config.json`` with the schema's ``version``; ``Config.from_dict``
upgrades an older one step by step (``UPGRADES``), so an option can be renamed, moved or
retired in a later version and old run folders still build the model they trained.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

@dataclasses.dataclass
class DataConfig:
    max_tokens: int = 2500           # tokens kept per note (the rest is cut; the literature: 2,500 or 4,000)
    batch_size: int = 16             # notes per training step
    eval_batch_size: int = 32        # notes per step when predicting dev and test
    synthetic_docs: int = 10000      # synthetic corpus (when it is the data): notes in all
    synthetic_noise: float = 0.1     # synthetic corpus: share of wrong or missed codes
    synthetic_mean_tokens: int = 300  # synthetic corpus: mean note length
    synthetic_full_codes: int = 500  # label count of the synthetic stand-in for MIMIC-III-full
    synthetic_seed: int = 0          # the corpus's seed (train.seed seeds the model, not the data)

ARCHS = ("jlan", "caml", "multirescnn", "laat", "jointlaat")

@dataclasses.dataclass
class ModelConfig:
    arch: str = "jlan"              # jlan | caml | multirescnn | laat | jointlaat (jlan_tf.baselines)
    embedding_dropout: float = 0.2  # dropout on the word vectors
    train_embeddings: bool = True   # False: the word vectors stay as word2vec made them (fewer parameters to fit)
    conv_filters: int = 100         # filters of the residual Conv1D blocks
    kernel_size: int = 3            # their kernel width
    residual_blocks: int = 1        # paper's best P = 1
    lstm_units: int = 256           # k, per direction
    attention_dim: int = 200        # d
    attention_chunk: int = 2048     # attend to this many codes at a time in training (each keeps its softmaxes only); 0 = all
    attention_recompute: bool = False  # with attention_chunk: keep nothing, recompute each chunk (less memory, ~1/3 more attention time)
    attention_precision: str = "auto"  # chunks' products in training: auto (bfloat16 on a CPU with bfloat16 instructions, else compute) | compute | bfloat16
    label_queries: str = "description"  # or "trainable"
    fusion: str = "joint"           # joint | sum | self_only | label_only | concat
    output_hidden_dim: int = 256    # shared dense before the label-wise layer; 0 = none
    output_description_scorer: bool = True  # label weights = a projection of the description + offsets from 0 (paper: own)
    # The TF-IDF part (layers.LexicalOutput; not in the paper): TF-IDF + LR fitted on the training
    # split, its scores added to the logits and kept fixed, so the network learns what LR misses
    # (chosen on CodiEsp dev, docs/studies/fusion_and_denoising.md; false: the network alone, as in the paper).
    lexical_output: bool = True     # add TF-IDF + linear scores per code to the logits
    lexical_words: int = -1         # words per code in the TF-IDF part: -1 auto (lexical_words_for), 0 every word, K
    parent_projection_dim: int = 128  # jointlaat: the parent probabilities' projection (Vu et al.: 128)
    precision: str = "auto"         # auto (mixed_float16 on GPU, float32 on CPU) | float32 | mixed_float16

@dataclasses.dataclass
class TrainConfig:
    epochs: int = 20                # at most this many epochs (early stopping may stop sooner)
    learning_rate: float = 1e-3     # Adam's step size
    d_max: float = 0.1              # the truncation loss's largest drop rate (paper: 0.15); 0 = plain BCE
    warmup_epochs: float = 2.0      # the drop rate ramps from 0 to d_max over this many epochs
    burn_in_epochs: float = 4.0     # no dropping before this epoch; the ramp starts here (paper: 0)
    d_max_negatives: float = 0.0    # > 0: also drop the highest-loss negatives (missed codes?), this share of the positives
    patience: int = 5               # early stopping on train.select_on
    min_epochs: int = 0             # early stopping never stops before this epoch (small, noisy dev sets)
    select_on: str = "map"          # the dev metric of early stopping: map | micro_f1 | micro_f1_tuned
    clip_norm: float = 0.0          # > 0: clip the global gradient norm
    weight_decay: float = 1.0       # > 0: decoupled weight decay (AdamW) on all but biases and word vectors; 0 = off (paper)
    ema_momentum: float = 0.99      # > 0: evaluate, select and keep the weights' moving average; 0 = off (paper)
    evidence_weight: float = 0.0    # > 0: pull the fused attention onto coders' spans (jlan_tf.supervision; needs them)
    seed: int = 0                   # seeds the model's initialisation and the batches' order
    jit_compile: bool = False       # measured slower on CPU
    strategy: str = "auto"          # auto (mirrored when several GPUs are visible) | one | mirrored | multi_worker
    steps_per_execution: int = 1    # training steps per call into the compiled graph (fewer host round trips on GPU)
    memory_check: bool = True       # stop before training when a step will not fit in memory (jlan_tf.memory)

@dataclasses.dataclass
class StudyConfig:
    """Switches for studies and for the paper's readings; the defaults are the chosen forms."""
    fusion_scale: float = 2.0       # joint: V = scale * (a' M_s + b' M_l); 2 = the plain sum at init (paper: 1)
    fusion_label_bias: bool = True  # joint: per-label gate biases (the paper: one per view)
    output_shared_scorer: bool = False  # label weights = a shared vector + per-label offsets from 0 (long tails)
    output_parent_scorer: bool = False  # label weights + a vector shared by the codes of one parent (ICD hierarchy)
    lexical_scale: float = 10.0     # the TF-IDF part's multiplier (a learning-rate multiplier: layers.LexicalOutput)
    lexical_init: str = "lr"        # lr (TF-IDF + LR's fit on the training split) | zeros (learned from 0 with the rest)
    lexical_trainable: bool = False  # False: the TF-IDF part keeps its starting weights (with lr: a stacked model)
    prior_bias: bool = True         # output biases start at the log-odds of each code's frequency
    stop_epoch: float = 0.0         # > 0: stop dropping from this epoch on (an end phase of plain BCE)
    drop_rank: str = "relative"     # relative (loss minus the code's running mean) | loss (the paper)
    drop_rounding: str = "stochastic"  # stochastic | floor | ceil (the paper)
    rare_code_notes: int = 0        # > 0: a code seen in n < N training notes weighs n / N in the loss
    optimizer: str = "keras_adam"   # keras_adam (Keras 3's reading, chosen on dev) | adam (as written; fused, faster)

# The TF-IDF part keeps every word while its dense (words x codes) kernel has at most this many
# entries (256 MB in float32: CodiEsp, MIMIC-III-50), else LEXICAL_WORDS words per code
# (MIMIC-III-full: 51,917 x 8,921 = 463M). Chosen on dev: on CodiEsp-50 (5 seeds) 128 words per
# code lost MAP -0.020 [-0.028, -0.012] against every word, so the smaller part is used only
# where the dense one does not fit.
LEXICAL_DENSE_LIMIT = 64_000_000
LEXICAL_WORDS = 128

def lexical_words_for(model: "ModelConfig", vocab: int, labels: int) -> int:
    """Words per code of the TF-IDF part for ``model.lexical_words`` at this shape (0: every word)."""
    if model.lexical_words >= 0:
        return model.lexical_words
    return 0 if vocab * labels <= LEXICAL_DENSE_LIMIT else LEXICAL_WORDS

# ``--set preset=NAME``: the published settings of a model, applied before the other --set.
# None of the project's additions to training (truncation loss, weights' moving average, weight
# decay) is part of a published baseline.
_PLAIN_TRAINING = {"train.d_max": 0, "train.ema_momentum": 0, "train.weight_decay": 0, "model.lexical_output": False}
PRESETS = {
    "jlan": {},
    "jlan_paper": {"study.fusion_scale": 1, "study.fusion_label_bias": False, "train.d_max": 0.15,
                   "study.drop_rank": "loss", "train.burn_in_epochs": 0, "study.drop_rounding": "ceil",
                   "train.ema_momentum": 0, "model.output_description_scorer": False,
                   "train.weight_decay": 0, "model.lexical_output": False},
    # Mullenbach et al. 2018 (MIMIC-III-50): 50 maps of width 10, dropout 0.2, Adam 1e-4.
    "caml": {"model.arch": "caml", "model.conv_filters": 50, "model.kernel_size": 10, "model.embedding_dropout": 0.2,
             "train.learning_rate": 1e-4, **_PLAIN_TRAINING},
    # Li & Yu 2020: widths 3..25, 50 maps each, one residual layer, dropout 0.2, Adam 1e-4.
    "multirescnn": {"model.arch": "multirescnn", "model.conv_filters": 50, "model.embedding_dropout": 0.2,
                    "train.learning_rate": 1e-4, **_PLAIN_TRAINING},
    # Vu et al. 2020: BiLSTM 256 per direction with d_a 256 (the size compared); dropout 0.3, Adam 1e-3.
    "laat": {"model.arch": "laat", "model.lstm_units": 256, "model.attention_dim": 256, "model.embedding_dropout": 0.3,
             "train.learning_rate": 1e-3, **_PLAIN_TRAINING},
    # JointLAAT (Vu et al. 2020): LAAT's settings, parent codes as a first level, projection 128.
    "jointlaat": {"model.arch": "jointlaat", "model.lstm_units": 256, "model.attention_dim": 256,
                  "model.parent_projection_dim": 128, "model.embedding_dropout": 0.3, "train.learning_rate": 1e-3,
                  **_PLAIN_TRAINING},
    # LAAT's published size: u = 512 per direction, d_a = 512.
    "laat_paper": {"model.arch": "laat", "model.lstm_units": 512, "model.attention_dim": 512,
                   "model.embedding_dropout": 0.3, "train.learning_rate": 1e-3, **_PLAIN_TRAINING},
}

# One line per preset, for ``--help`` and docs.
PRESET_HELP = {
    "jlan": "the default: JLAN with the forms chosen on dev and the TF-IDF + LR part",
    "jlan_paper": "JLAN as the paper writes it (no TF-IDF part, moving average, weight decay or description scorer)",
    "caml": "CAML (Mullenbach et al. 2018), its published settings",
    "multirescnn": "MultiResCNN (Li & Yu 2020), its published settings",
    "laat": "LAAT (Vu et al. 2020) at hidden 256 per direction",
    "jointlaat": "JointLAAT (Vu et al. 2020): LAAT with parent codes as a first level",
    "laat_paper": "LAAT at its published size (512 per direction)",
}

CONFIG_VERSION = 2
# Where each study switch lived in version 1.
_MOVED_TO_STUDY = {f"{section}.{name}": f"study.{name}" for section, names in {
    "model": ("fusion_scale", "fusion_label_bias", "output_shared_scorer", "lexical_scale", "lexical_init",
              "lexical_trainable", "prior_bias"),
    "train": ("stop_epoch", "drop_rank", "drop_rounding", "rare_code_notes", "optimizer")}.items() for name in names}

def _upgrade_1_to_2(values: dict) -> dict:
    """Version 1 (every config.json saved before versions existed): fill in what a missing key
    meant when it was saved (a run older than the description scorer and the TF-IDF part ran
    without them; every version-1 TF-IDF part had a dense kernel), then move the study
    switches into ``study``."""
    if "model" in values:
        for name, then in {"output_description_scorer": False, "lexical_output": False, "lexical_init": "zeros",
                           "lexical_trainable": True, "lexical_words": 0, "attention_chunk": 0}.items():
            values["model"].setdefault(name, then)
    study = values.setdefault("study", {})
    for old in _MOVED_TO_STUDY:
        section, _, name = old.partition(".")
        if name in values.get(section, {}):
            study[name] = values[section].pop(name)
    return values

# UPGRADES[v] turns a saved config of version v into one of version v + 1.
UPGRADES = {1: _upgrade_1_to_2}

@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    study: StudyConfig = dataclasses.field(default_factory=StudyConfig)

    def to_dict(self) -> dict:
        return {"version": CONFIG_VERSION, **dataclasses.asdict(self)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        """A saved config, upgraded to this version (``UPGRADES``); a setting it lacks takes its default."""
        values = json.loads(json.dumps(values))  # a deep copy: the upgrades edit it
        version = values.pop("version", 1)
        if not isinstance(version, int) or not 1 <= version <= CONFIG_VERSION:
            raise ValueError(f"config version {version!r}: this jlan_tf reads versions 1 to {CONFIG_VERSION} "
                             "(a config written by a newer jlan_tf?)")
        for step in range(version, CONFIG_VERSION):
            values = UPGRADES[step](values)
        config = cls()
        for section, fields in values.items():
            for key, value in fields.items():
                config.set(f"{section}.{key}", value)
        return config

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def set(self, key: str, value) -> None:
        """Sets ``section.key`` to ``value`` (a string is parsed to the field's type)."""
        section_name, _, name = key.partition(".")
        section = getattr(self, section_name, None) if section_name in {f.name for f in dataclasses.fields(self)} else None
        if section is None or name not in {f.name for f in dataclasses.fields(section)}:
            if key in _MOVED_TO_STUDY:
                raise KeyError(f"setting {key!r} is now {_MOVED_TO_STUDY[key]!r}")
            raise KeyError(f"unknown setting {key!r}; known: {', '.join(sorted(self.keys()))}")
        kind = typing.get_type_hints(type(section))[name]
        setattr(section, name, _parse(value, kind, key))

    def keys(self) -> list[str]:
        return [f"{s.name}.{f.name}" for s in dataclasses.fields(self) for f in dataclasses.fields(getattr(self, s.name))]

    def apply_overrides(self, overrides: list[str]) -> "Config":
        """Applies ``section.key=value`` items in order; ``preset=NAME`` items first (``PRESETS``)."""
        pairs = []
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set expects section.key=value, got {item!r}")
            pairs.append((key.strip(), value.strip()))
        for key, value in [p for p in pairs if p[0] == "preset"] + [p for p in pairs if p[0] != "preset"]:
            if key == "preset":
                if value not in PRESETS:
                    raise KeyError(f"unknown preset {value!r}; known: {', '.join(PRESETS)}")
                for preset_key, preset_value in PRESETS[value].items():
                    self.set(preset_key, preset_value)
            else:
                self.set(key, value)
        return self

def _parse(value, kind, key: str):
    if not isinstance(value, str):
        return kind(value) if kind in (int, float) and not isinstance(value, bool) else value
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return value.lower() in ("true", "1")
        return kind(value)
    except ValueError:
        raise ValueError(f"{key}: cannot read {value!r} as {kind.__name__}") from None
