"""The JLAN model: embedding -> residual Conv1D -> BiLSTM -> dual attention -> joint fusion
-> label-wise output, trained with the truncated BCE of ``jlan_tf.denoising``.

``model(x)`` returns a dict: ``logits`` (B, L) float32, ``self_attention`` and
``label_attention`` (B, L, T) float32, ``fusion_weights`` (B, L, 2). ``model.predict``
returns only the probabilities (B, L), so predicting a whole split never gathers the
(documents x labels x tokens) attention maps.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

import jlan_tf.optimizers  # noqa: F401  (registers FusedAdam: a saved model carries its optimizer)
from jlan_tf.config import ModelConfig
from jlan_tf.denoising import (BAND_NAMES, RANKS, ROUNDINGS, PositiveLossMean, band_shares, drop_rate,
                               negative_mask, per_entry_bce, truncation_mask)
from jlan_tf.layers import DualAttention, FastLSTM, JointFusion, LabelWiseOutput, LexicalOutput, ResidualConv1D
from jlan_tf.supervision import span_attention_loss
from jlan_tf.tokenization import UNK_ID

log = logging.getLogger(__name__)


def set_precision(precision: str = "auto") -> str:
    """Sets Keras' global dtype policy; ``auto`` is mixed_float16 with a GPU, else float32."""
    if precision == "auto":
        precision = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_dtype_policy(precision)
    return precision


class _BandMean(keras.metrics.Metric):
    """Per label-frequency band, sum(values * weights) / sum(weights) over the epoch."""

    def __init__(self, name, bands: list[int]):
        super().__init__(name=name)
        self.bands = tf.constant(bands, tf.int32)
        self.total = self.add_variable((len(BAND_NAMES),), "zeros", name="total")
        self.count = self.add_variable((len(BAND_NAMES),), "zeros", name="count")

    def update_state(self, values, weights):
        total, count = band_shares(values, weights, self.bands, len(BAND_NAMES))
        self.total.assign_add(total)
        self.count.assign_add(count)

    def result(self):
        return self.total / tf.maximum(self.count, 1.0)

    def logs(self) -> dict:
        result = self.result()
        return {f"{self.name}_{band}": result[i] for i, band in enumerate(BAND_NAMES)}


@keras.saving.register_keras_serializable(package="jlan_tf")
class JLANModel(keras.Model):
    """A functional model with JLAN's training step (truncated BCE) and a plain-BCE test step.

    Args:
        d_max: float. Largest share of positive entries dropped per batch (0 = plain BCE).
        warmup_steps: int. Steps of the ramp from 0 to ``d_max`` (after the burn-in).
        stop_step: int or None. Step from which nothing is dropped any more.
        burn_in_steps: int. Steps before dropping starts.
        drop_rank: "loss" (the paper) or "relative" (loss minus the code's running mean
            positive loss); see ``jlan_tf.denoising``.
        drop_rounding: "ceil" (the paper), "floor" or "stochastic".
        d_max_negatives: float. Largest number of negatives dropped per batch, as a share of its
            positives (codes a coder missed; ``denoising.negative_mask``), on the same schedule;
            0 = negatives always kept (the paper).
        label_bands: per label, its training-frequency band (0 rare, 1 medium, 2 frequent);
            with it the step logs, per band, the share of positives dropped
            (``dropped_share_*``) and the mean self-attention weight of joint fusion
            (``alpha_*``).
        label_weights: per label, a weight on its loss entries (``train.rare_code_notes``: a
            code seen in n < N training notes gets n / N), so that the hundreds of codes seen
            once or twice do not dominate what the shared layers learn; None = all 1.
        label_parents: per label, the index of its parent code, for a model with a
            ``parent_logits`` output (JointLAAT): the training loss adds the parents' mean BCE,
            a parent being positive when any of its codes is (its ``parent_loss`` is logged).
        evidence_weight: float. Weight of ``jlan_tf.supervision``'s span loss, used when the
            training targets carry ``evidence`` (``make_dataset(..., evidence=True)``); its
            mean per (note, code) pair is logged as ``evidence_loss``.
    """

    def __init__(self, *args, d_max=0.15, warmup_steps=1000, stop_step=None, burn_in_steps=0, drop_rank="loss",
                 drop_rounding="ceil", label_bands=None, label_weights=None, label_parents=None, evidence_weight=0.0,
                 d_max_negatives=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        if drop_rank not in RANKS or drop_rounding not in ROUNDINGS:
            raise ValueError(f"drop_rank must be one of {RANKS} and drop_rounding one of {ROUNDINGS}, "
                             f"got {drop_rank!r} and {drop_rounding!r}")
        self.d_max, self.warmup_steps, self.stop_step = d_max, warmup_steps, stop_step
        self.burn_in_steps, self.drop_rank, self.drop_rounding = burn_in_steps, drop_rank, drop_rounding
        self.d_max_negatives = float(d_max_negatives)
        self.label_bands = None if label_bands is None else [int(b) for b in label_bands]
        self.label_weights = None if label_weights is None else [float(w) for w in label_weights]
        self.label_parents = None if label_parents is None else [int(p) for p in label_parents]
        self.parent_matrix = None if label_parents is None else \
            tf.one_hot(self.label_parents, max(self.label_parents) + 1, dtype=tf.float32)       # (L, P)
        self.evidence_weight = float(evidence_weight)
        self.parent_loss_tracker = keras.metrics.Mean(name="parent_loss")
        self.evidence_loss_tracker = keras.metrics.Mean(name="evidence_loss")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.dropped_tracker = keras.metrics.Sum(name="dropped")
        self.mask_hits = keras.metrics.Sum(name="mask_hits")      # dropped entries that were noise
        self.noisy_positives = keras.metrics.Sum(name="noisy_positives")
        self.negatives_dropped = keras.metrics.Sum(name="negatives_dropped")
        self.negative_hits = keras.metrics.Sum(name="negative_hits")  # dropped negatives that were missed codes
        self.missed_codes = keras.metrics.Sum(name="missed_codes")
        self.band_metrics = [] if self.label_bands is None else \
            [_BandMean("dropped_share", self.label_bands), _BandMean("alpha", self.label_bands)]
        self.positive_loss_mean = None
        if drop_rank == "relative":
            num_labels = self.get_layer("output").num_labels
            # Under several replicas each updates it from its share of the batch; they are averaged.
            variable = self.add_weight(name="positive_loss_mean", shape=(2, num_labels), initializer="zeros",
                                       trainable=False, aggregation="mean")
            self.positive_loss_mean = PositiveLossMean(variable)

    @property
    def metrics(self):
        return [self.loss_tracker, self.dropped_tracker, self.mask_hits, self.noisy_positives,
                *([self.negatives_dropped, self.negative_hits, self.missed_codes] if self.d_max_negatives else []),
                *self.band_metrics,
                *([self.parent_loss_tracker] if self.parent_matrix is not None else []),
                *([self.evidence_loss_tracker] if self.evidence_weight > 0 else [])]

    def train_step(self, data):
        x, y = data[0], data[1]  # (x, y) or (x, y, sample_weight)
        labels = y["labels"]
        step = self.optimizer.iterations
        rate = drop_rate(step, self.d_max, self.warmup_steps, self.stop_step, self.burn_in_steps)
        with tf.GradientTape() as tape:
            outputs = self(x, training=True)
            loss_matrix = per_entry_bce(labels, outputs["logits"])           # (B, L)
            rank_by = None if self.positive_loss_mean is None else self.positive_loss_mean.relative(loss_matrix)
            keep = truncation_mask(loss_matrix, labels, rate, rank_by, self.drop_rounding, step)  # no gradient
            kept_here = tf.reduce_sum(keep)
            keep_all = keep
            if self.d_max_negatives:
                negative_rate = drop_rate(step, self.d_max_negatives, self.warmup_steps, self.stop_step,
                                          self.burn_in_steps)
                keep_negatives = negative_mask(loss_matrix, labels, negative_rate, self.drop_rounding, step)
                keep_all = keep * keep_negatives
            weighted = keep_all if self.label_weights is None else keep_all * tf.constant(self.label_weights)
            # The (weighted) mean over kept entries of the global batch: gradients of the replicas add up.
            kept_all = tf.distribute.get_replica_context().all_reduce("sum", tf.reduce_sum(weighted))
            loss = tf.reduce_sum(loss_matrix * weighted) / tf.maximum(kept_all, 1.0)
            if self.parent_matrix is not None:
                parent_loss = self._parent_loss(labels, outputs["parent_logits"])
                loss = loss + parent_loss
            if "evidence" in y and self.evidence_weight > 0:
                total, pairs = span_attention_loss(outputs["self_attention"], outputs["label_attention"],
                                                   outputs["fusion_weights"], y["evidence"])
                pairs_all = tf.distribute.get_replica_context().all_reduce("sum", pairs)
                evidence_loss = total / tf.maximum(pairs_all, 1.0)
                loss = loss + self.evidence_weight * evidence_loss
            scaled_loss = self.optimizer.scale_loss(loss)                    # loss scaling under mixed_float16
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        if self.positive_loss_mean is not None:
            self.positive_loss_mean.update(loss_matrix, labels)

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.loss_tracker.update_state(loss * replicas)
        dropped = tf.cast(tf.size(keep), tf.float32) - kept_here
        self.dropped_tracker.update_state(dropped)
        logs = {"loss": self.loss_tracker.result(), "drop_rate": rate, "dropped": self.dropped_tracker.result()}
        if self.parent_matrix is not None:
            self.parent_loss_tracker.update_state(parent_loss * replicas)
            logs["parent_loss"] = self.parent_loss_tracker.result()
        if "evidence" in y and self.evidence_weight > 0:
            self.evidence_loss_tracker.update_state(evidence_loss * replicas)
            logs["evidence_loss"] = self.evidence_loss_tracker.result()
        if self.band_metrics:
            positive = tf.cast(labels > 0.5, tf.float32)
            dropped_share, alpha = self.band_metrics
            dropped_share.update_state(1.0 - keep, positive)
            alpha.update_state(outputs["fusion_weights"][..., 0], tf.ones_like(positive))
            logs.update(dropped_share.logs(), **alpha.logs())
        if "clean_labels" in y:  # noise = coded but not truly there; does the mask catch it?
            noisy = tf.cast(labels > 0.5, tf.float32) * tf.cast(y["clean_labels"] < 0.5, tf.float32)
            self.mask_hits.update_state(tf.reduce_sum(noisy * (1.0 - keep)))
            self.noisy_positives.update_state(tf.reduce_sum(noisy))
            logs["mask_precision"] = self.mask_hits.result() / tf.maximum(self.dropped_tracker.result(), 1.0)
            logs["mask_recall"] = self.mask_hits.result() / tf.maximum(self.noisy_positives.result(), 1.0)
        if self.d_max_negatives:
            logs.update(self._negative_logs(labels, keep_negatives, y.get("clean_labels")))
        return logs

    def _negative_logs(self, labels, keep_negatives, clean_labels):
        """How many negatives were dropped and, with clean labels, how many were missed codes."""
        self.negatives_dropped.update_state(tf.reduce_sum(1.0 - keep_negatives))
        logs = {"negatives_dropped": self.negatives_dropped.result()}
        if clean_labels is not None:
            missed = tf.cast(labels < 0.5, tf.float32) * tf.cast(clean_labels > 0.5, tf.float32)
            self.negative_hits.update_state(tf.reduce_sum(missed * (1.0 - keep_negatives)))
            self.missed_codes.update_state(tf.reduce_sum(missed))
            logs["negative_mask_precision"] = self.negative_hits.result() / tf.maximum(self.negatives_dropped.result(), 1.0)
            logs["negative_mask_recall"] = self.negative_hits.result() / tf.maximum(self.missed_codes.result(), 1.0)
        return logs

    def _parent_loss(self, labels, parent_logits):
        """The parents' BCE, a mean over the global batch (a parent is positive when any of its codes is)."""
        parent_labels = tf.minimum(tf.matmul(tf.cast(labels, tf.float32), self.parent_matrix), 1.0)
        entries = per_entry_bce(parent_labels, parent_logits)
        count = tf.distribute.get_replica_context().all_reduce("sum", tf.cast(tf.size(entries), tf.float32))
        return tf.reduce_sum(entries) / count

    def test_step(self, data):
        x, y = data[0], data[1]  # (x, y) or (x, y, sample_weight)
        logits = self(x, training=False)["logits"]
        self.loss_tracker.update_state(tf.reduce_mean(per_entry_bce(y["labels"], logits)))
        return {"loss": self.loss_tracker.result()}

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return tf.sigmoid(self(x, training=False)["logits"])

    def get_config(self):
        return {**super().get_config(), "d_max": self.d_max, "warmup_steps": self.warmup_steps,
                "stop_step": self.stop_step, "burn_in_steps": self.burn_in_steps, "drop_rank": self.drop_rank,
                "drop_rounding": self.drop_rounding, "label_bands": self.label_bands,
                "label_weights": self.label_weights, "label_parents": self.label_parents,
                "evidence_weight": self.evidence_weight, "d_max_negatives": self.d_max_negatives}


def description_embeddings(descriptions: list[np.ndarray], embeddings: np.ndarray) -> np.ndarray:
    """(labels, dim): the mean word vector of each description's known tokens (zeros if none)."""
    out = np.zeros((len(descriptions), embeddings.shape[1]), np.float32)
    for i, ids in enumerate(descriptions):
        ids = np.asarray(ids)
        ids = ids[ids > UNK_ID]
        if len(ids):
            out[i] = embeddings[ids].mean(axis=0)
    return out


def build_jlan(config: ModelConfig, embeddings: np.ndarray, num_labels: int,
               descriptions: list[np.ndarray] | None = None, d_max: float = 0.15,
               warmup_steps: int = 1000, stop_step: int | None = None,
               label_priors: np.ndarray | None = None, label_parents: list[int] | None = None,
               word_idf: np.ndarray | None = None, lexical_weights: tuple | None = None,
               **denoising) -> JLANModel:
    """JLAN with the functional API (or, with ``config.arch`` other than ``jlan``, one of the
    baselines of ``jlan_tf.baselines`` in the same harness).

    Args:
        config: the model settings.
        embeddings: (vocab, dim) initial word vectors (word2vec); row 0 is padding.
        num_labels: number of codes.
        descriptions: per label, the token ids of its description (needed when
            ``config.label_queries == "description"``).
        label_priors: per label, its frequency in the training split; with
            ``config.prior_bias`` the output biases start at their log-odds, so training does
            not spend its first hundreds of steps learning how common each code is.
        label_parents: per label, the index of its parent code (``baselines.code_parents``);
            needed by ``jointlaat``, ignored by the others.
        word_idf: (vocab,) the idf of each word in the training split (scikit-learn's smooth
            idf); needed with ``config.lexical_output``, whose TF-IDF scores are added to the
            logits (``LexicalOutput``; the attention maps cover the network's part, the token
            contributions of ``jlan_tf.attribution`` both).
        lexical_weights: (kernel (vocab, labels), bias (labels,)) of a linear model on those
            TF-IDF vectors (``linear.FittedLR``, ``config.lexical_init=lr``): the TF-IDF part starts
            as that model's weights and the output biases at its intercepts (where a code has
            none, NaN, its bias stays as above: the prior's log-odds), so the model starts
            as the linear model plus the (small) network; ``config.lexical_trainable`` = False
            keeps them (a network that learns what the linear model misses).
        **denoising: the other arguments of ``JLANModel`` (burn-in, ranking, rounding, bands).
    """
    if config.arch == "jointlaat" and label_parents is None:
        raise ValueError("model.arch=jointlaat needs label_parents (baselines.code_parents of the codes)")
    label_parents = list(label_parents) if config.arch == "jointlaat" else None
    vocab_size, dim = embeddings.shape
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    embedding = keras.layers.Embedding(vocab_size, dim, mask_zero=True, trainable=config.train_embeddings,
                                       name="embedding")
    x = embedding(tokens)                                                        # (B, T, e)
    x = keras.layers.Dropout(config.embedding_dropout, name="embedding_dropout")(x)
    if config.arch == "jlan":
        outputs, attention = _jlan_outputs(config, x, num_labels, dim)
    else:
        from jlan_tf.baselines import baseline_outputs

        num_parents = max(label_parents) + 1 if label_parents else 0
        outputs, attention = baseline_outputs(config.arch, config, tokens, x, num_labels, num_parents), None
    lexical = None
    if config.lexical_output:
        if word_idf is None:
            raise ValueError("model.lexical_output needs the words' idf in the training split (word_idf)")
        if config.lexical_init == "lr" and lexical_weights is None:
            raise ValueError("model.lexical_init=lr needs TF-IDF + LR's fitted weights (lexical_weights; "
                             "training.lexical_inputs fits them)")
        lexical = LexicalOutput(num_labels, vocab_size, config.lexical_scale, dtype="float32", name="lexical_output",
                                trainable=config.lexical_trainable)
        outputs["logits"] = keras.layers.Add(dtype="float32", name="logits")([outputs["logits"], lexical(tokens)])
    model = JLANModel(inputs={"tokens": tokens}, outputs=outputs, name=config.arch, d_max=d_max,
                      warmup_steps=warmup_steps, stop_step=stop_step, label_parents=label_parents, **denoising)
    # Assigned, not a Constant initializer: that would copy the matrix into the JSON config.
    embedding.embeddings.assign(embeddings)
    if lexical is not None:
        lexical.set_idf(np.asarray(word_idf, np.float32))
    output = model.get_layer("output")
    if config.prior_bias and label_priors is not None:
        p = np.clip(np.asarray(label_priors, np.float64), 1e-4, 1 - 1e-4)
        output.label_bias.assign(np.log(p / (1 - p)).astype(np.float32))
        if label_parents is not None:  # a parent's frequency as if its codes were independent
            absent = np.ones(max(label_parents) + 1)
            np.multiply.at(absent, label_parents, 1 - p)
            q = np.clip(1 - absent, 1e-4, 1 - 1e-4)
            model.get_layer("parent_output").label_bias.assign(np.log(q / (1 - q)).astype(np.float32))
    if lexical_weights is not None and lexical is not None:
        kernel, bias = lexical_weights
        lexical.kernel.assign(np.asarray(kernel, np.float32) / config.lexical_scale)
        output.label_bias.assign(np.where(np.isnan(bias), output.label_bias.numpy(), bias).astype(np.float32))
    needs_descriptions = [output] if output.description_scorer else []
    if attention is not None and config.label_queries == "description":
        needs_descriptions.append(attention)
    if needs_descriptions:
        if descriptions is None:
            raise ValueError("label_queries='description' and model.output_description_scorer need the tokenized "
                             "code descriptions")
        matrix = description_embeddings(descriptions, embeddings)
        for layer in needs_descriptions:
            layer.set_descriptions(matrix)
    return model


def _jlan_outputs(config: ModelConfig, x, num_labels: int, dim: int):
    """JLAN's graph from the embedded tokens: (the outputs dict, the DualAttention layer)."""
    for block in range(config.residual_blocks):
        x = ResidualConv1D(config.conv_filters, config.kernel_size, name=f"residual_conv_{block}")(x)
    # FastLSTM: keras.layers.LSTM's weights and results, a faster loop on CPU (named "lstm" so
    # the weight paths are those of Bidirectional(LSTM)).
    h = keras.layers.Bidirectional(FastLSTM(config.lstm_units, return_sequences=True, name="lstm"),
                                   name="bilstm")(x)                             # (B, T, 2k)
    attention = DualAttention(num_labels, config.attention_dim, config.label_queries, description_dim=dim,
                              name="dual_attention")
    m_self, m_label, a_self, a_label = attention(h)                              # (B, L, 2k), (B, L, T)
    v, fusion_weights = JointFusion(config.fusion, scale=config.fusion_scale, label_bias=config.fusion_label_bias,
                                    dtype="float32", name="joint_fusion")((m_self, m_label))
    logits = LabelWiseOutput(num_labels, config.output_hidden_dim, shared_scorer=config.output_shared_scorer,
                             description_scorer=config.output_description_scorer, description_dim=dim,
                             dtype="float32", name="output")(v)                  # (B, L)
    return {"logits": logits, "self_attention": a_self, "label_attention": a_label,
            "fusion_weights": fusion_weights}, attention
