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
from jlan_tf import projected_scores
from jlan_tf.config import Config, lexical_words_for
from jlan_tf.denoising import BandMean, PositiveLossMean, drop_rate, negative_mask, per_entry_bce, truncation_mask
from jlan_tf.layers import DualAttention, FastLSTM, JointFusion, LabelWiseOutput, LexicalOutput, ResidualConv1D
from jlan_tf.layers.dual_attention import views_only
from jlan_tf.objective import Objective
from jlan_tf.supervision import span_attention_loss
from jlan_tf.tokenization import UNK_ID

log = logging.getLogger(__name__)


def attention_dtype(attention_precision: str) -> str | None:
    """``model.attention_precision`` as ``DualAttention``'s ``chunk_dtype`` (None: the compute
    dtype); ``auto`` stays ``auto``: the layer resolves it on the machine that trains
    (``layers.dual_attention.resolve_chunk_dtype``)."""
    if attention_precision not in ("auto", "compute", "bfloat16"):
        raise ValueError(f"model.attention_precision must be auto, compute or bfloat16, got {attention_precision!r}")
    return None if attention_precision == "compute" else attention_precision


def set_precision(precision: str = "auto") -> str:
    """Sets Keras' global dtype policy; ``auto`` is mixed_float16 with a GPU, else float32."""
    if precision == "auto":
        precision = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_dtype_policy(precision)
    return precision


# Settings of the truncation loss that models saved by jlan_tf before config version 2 carried
# in their own config; the training side holds them now (``jlan_tf.objective``).
_TRAINING_KEYS_OF_OLD_MODELS = ("d_max", "warmup_steps", "stop_step", "burn_in_steps", "drop_rank", "drop_rounding",
                                "label_bands", "label_weights", "label_parents", "evidence_weight", "d_max_negatives")


@keras.saving.register_keras_serializable(package="jlan_tf")
class JLANModel(keras.Model):
    """A functional model with JLAN's training step (the truncated BCE of ``jlan_tf.denoising``)
    and a plain-BCE test step. Its config is the network's only: what the training step
    optimises is an ``Objective`` handed over by ``set_objective`` (plain BCE until then).

    It owns one training-state variable, ``positive_loss_mean`` (2, labels): the running mean
    of each code's positive loss that relative ranking reads (``denoising.PositiveLossMean``),
    so that checkpoints keep it and a resumed run ranks as before.
    """

    def __init__(self, *args, **kwargs):
        for key in _TRAINING_KEYS_OF_OLD_MODELS:  # a model saved with its training settings
            kwargs.pop(key, None)
        super().__init__(*args, **kwargs)
        self.parent_loss_tracker = keras.metrics.Mean(name="parent_loss")
        self.evidence_loss_tracker = keras.metrics.Mean(name="evidence_loss")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.dropped_tracker = keras.metrics.Sum(name="dropped")
        self.mask_hits = keras.metrics.Sum(name="mask_hits")      # dropped entries that were noise
        self.noisy_positives = keras.metrics.Sum(name="noisy_positives")
        self.negatives_dropped = keras.metrics.Sum(name="negatives_dropped")
        self.negative_hits = keras.metrics.Sum(name="negative_hits")  # dropped negatives that were missed codes
        self.missed_codes = keras.metrics.Sum(name="missed_codes")
        num_labels = self.get_layer("output").num_labels
        # Under several replicas each updates it from its share of the batch; they are averaged.
        variable = self.add_weight(name="positive_loss_mean", shape=(2, num_labels), initializer="zeros",
                                   trainable=False, aggregation="mean")
        self.positive_loss_mean = PositiveLossMean(variable)
        self.set_objective(Objective())

    def set_objective(self, objective: Objective) -> None:
        """What ``train_step`` optimises from now on (``training.new_model`` sets it from the config)."""
        self.objective = objective
        self.parent_matrix = None if objective.label_parents is None else \
            tf.one_hot(list(objective.label_parents), max(objective.label_parents) + 1, dtype=tf.float32)  # (L, P)
        self.label_weight_vector = None if objective.label_weights is None else \
            tf.constant(objective.label_weights, tf.float32)
        self.band_metrics = [] if objective.label_bands is None else \
            [BandMean("dropped_share", list(objective.label_bands)), BandMean("alpha", list(objective.label_bands))]
        # Training that reads logits and fusion weights only (no maps, no parents' logits): projected_scores.
        self.projected_training = (projected_scores.trains_projected(self) and self.parent_matrix is None
                                   and objective.evidence_weight == 0)
        self.train_function = None  # traced again with the new objective

    def load_own_variables(self, store):
        # Models saved before config version 2 without relative ranking had no running mean.
        if len(store.keys()) == 0 and len(self._non_trainable_variables) == 1:
            return
        super().load_own_variables(store)

    @property
    def metrics(self):
        return [self.loss_tracker, self.dropped_tracker, self.mask_hits, self.noisy_positives,
                *([self.negatives_dropped, self.negative_hits, self.missed_codes] if self.objective.d_max_negatives else []),
                *self.band_metrics,
                *([self.parent_loss_tracker] if self.parent_matrix is not None else []),
                *([self.evidence_loss_tracker] if self.objective.evidence_weight > 0 else [])]

    def train_step(self, data):
        x, y = data[0], data[1]  # (x, y) or (x, y, sample_weight)
        labels, o = y["labels"], self.objective
        step = self.optimizer.iterations
        rate = drop_rate(step, o.d_max, o.warmup_steps, o.stop_step, o.burn_in_steps)
        with tf.GradientTape() as tape:
            if self.projected_training:  # logits and fusion weights, a quarter less attention arithmetic
                outputs = projected_scores.training_outputs(self, x["tokens"])
            else:
                outputs = self(x, training=True)
            loss_matrix = per_entry_bce(labels, outputs["logits"])           # (B, L)
            rank_by = self.positive_loss_mean.relative(loss_matrix) if o.drop_rank == "relative" else None
            keep = truncation_mask(loss_matrix, labels, rate, rank_by, o.drop_rounding, step)  # no gradient
            kept_here = tf.reduce_sum(keep)
            keep_all = keep
            if o.d_max_negatives:
                negative_rate = drop_rate(step, o.d_max_negatives, o.warmup_steps, o.stop_step, o.burn_in_steps)
                keep_negatives = negative_mask(loss_matrix, labels, negative_rate, o.drop_rounding, step)
                keep_all = keep * keep_negatives
            weighted = keep_all if self.label_weight_vector is None else keep_all * self.label_weight_vector
            # The (weighted) mean over kept entries of the global batch: gradients of the replicas add up.
            kept_all = tf.distribute.get_replica_context().all_reduce("sum", tf.reduce_sum(weighted))
            loss = tf.reduce_sum(loss_matrix * weighted) / tf.maximum(kept_all, 1.0)
            if self.parent_matrix is not None:
                parent_loss = self._parent_loss(labels, outputs["parent_logits"])
                loss = loss + parent_loss
            supervised = "evidence" in y and o.evidence_weight > 0
            if supervised:
                total, pairs = span_attention_loss(outputs["self_attention"], outputs["label_attention"],
                                                   outputs["fusion_weights"], y["evidence"])
                pairs_all = tf.distribute.get_replica_context().all_reduce("sum", pairs)
                evidence_loss = total / tf.maximum(pairs_all, 1.0)
                loss = loss + o.evidence_weight * evidence_loss
            scaled_loss = self.optimizer.scale_loss(loss)                    # loss scaling under mixed_float16
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        if o.drop_rank == "relative":
            self.positive_loss_mean.update(loss_matrix, labels)

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.loss_tracker.update_state(loss * replicas)
        dropped = tf.cast(tf.size(keep), tf.float32) - kept_here
        self.dropped_tracker.update_state(dropped)
        logs = {"loss": self.loss_tracker.result(), "drop_rate": rate, "dropped": self.dropped_tracker.result()}
        if self.parent_matrix is not None:
            self.parent_loss_tracker.update_state(parent_loss * replicas)
            logs["parent_loss"] = self.parent_loss_tracker.result()
        if supervised:
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
        if o.d_max_negatives:
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
        if projected_scores.supports(self):  # the same scores, a quarter less arithmetic
            return tf.sigmoid(projected_scores.logits(self, projected_scores.encoder_of(self), x["tokens"]))
        with views_only():  # the scores only: no (batch, labels, tokens) maps with model.attention_chunk
            return tf.sigmoid(self(x, training=False)["logits"])


def description_embeddings(descriptions: list[np.ndarray], embeddings: np.ndarray) -> np.ndarray:
    """(labels, dim): the mean word vector of each description's known tokens (zeros if none)."""
    out = np.zeros((len(descriptions), embeddings.shape[1]), np.float32)
    for i, ids in enumerate(descriptions):
        ids = np.asarray(ids)
        ids = ids[ids > UNK_ID]
        if len(ids):
            out[i] = embeddings[ids].mean(axis=0)
    return out


def build_jlan(config: Config, embeddings: np.ndarray, num_labels: int,
               descriptions: list[np.ndarray] | None = None, label_priors: np.ndarray | None = None,
               label_parents: list[int] | None = None, word_idf: np.ndarray | None = None,
               lexical_weights: tuple | None = None) -> JLANModel:
    """JLAN with the functional API (or, with ``config.model.arch`` other than ``jlan``, one of
    the baselines of ``jlan_tf.baselines`` in the same harness): the network only; training
    sets its objective (``JLANModel.set_objective``).

    Args:
        config: the settings (``model`` and ``study`` are read).
        embeddings: (vocab, dim) initial word vectors (word2vec); row 0 is padding.
        num_labels: number of codes.
        descriptions: per label, the token ids of its description (needed when
            ``model.label_queries == "description"`` or ``model.output_description_scorer``).
        label_priors: per label, its frequency in the training split; with
            ``study.prior_bias`` the output biases start at their log-odds, so training does
            not spend its first hundreds of steps learning how common each code is.
        label_parents: per label, the index of its parent code (``baselines.code_parents``);
            needed by ``jointlaat`` and by ``study.output_parent_scorer``, ignored otherwise.
        word_idf: (vocab,) the idf of each word in the training split (scikit-learn's smooth
            idf); needed with ``model.lexical_output``, whose TF-IDF scores are added to the
            logits (``LexicalOutput``).
        lexical_weights: (kernel (vocab, labels), bias (labels,)) of a linear model on those
            TF-IDF vectors, or with ``model.lexical_words`` = K > 0 (word ids (labels, K),
            weights (labels, K), bias (labels,)) (``lexical_fit.SparseLR``) (``linear.FittedLR``, ``study.lexical_init=lr``): the TF-IDF part starts
            as that model's weights and the output biases at its intercepts (where a code has
            none, NaN, its bias stays at the prior's log-odds); ``study.lexical_trainable`` =
            False keeps them (a network that learns what the linear model misses).
    """
    m = config.model
    parent_scorer = m.arch == "jlan" and config.study.output_parent_scorer
    if (m.arch == "jointlaat" or parent_scorer) and label_parents is None:
        raise ValueError("model.arch=jointlaat and study.output_parent_scorer need label_parents "
                         "(baselines.code_parents of the codes)")
    label_parents = list(label_parents) if m.arch == "jointlaat" or parent_scorer else None
    vocab_size, dim = embeddings.shape
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    embedding = keras.layers.Embedding(vocab_size, dim, mask_zero=True, trainable=m.train_embeddings, name="embedding")
    x = keras.layers.Dropout(m.embedding_dropout, name="embedding_dropout")(embedding(tokens))  # (B, T, e)
    if m.arch == "jlan":
        num_parents = max(label_parents) + 1 if parent_scorer else 0
        outputs, attention = _jlan_outputs(config, x, num_labels, dim, num_parents)
    else:
        from jlan_tf.baselines import baseline_outputs

        num_parents = max(label_parents) + 1 if label_parents else 0
        outputs, attention = baseline_outputs(m.arch, m, tokens, x, num_labels, num_parents), None
    lexical = _lexical_part(config, num_labels, vocab_size, word_idf, lexical_weights)
    if lexical is not None:
        outputs["logits"] = keras.layers.Add(dtype="float32", name="logits")([outputs["logits"], lexical(tokens)])
    model = JLANModel(inputs={"tokens": tokens}, outputs=outputs, name=m.arch)
    # Assigned, not a Constant initializer: that would copy the matrix into the JSON config.
    embedding.embeddings.assign(embeddings)
    if lexical is not None:
        lexical.set_idf(np.asarray(word_idf, np.float32))
    _initialise_outputs(model, config, label_priors, label_parents, lexical_weights)
    output = model.get_layer("output")
    if output.num_parents:
        output.set_parents(label_parents)
    needs_descriptions = [output] if output.description_scorer else []
    if attention is not None and m.label_queries == "description":
        needs_descriptions.append(attention)
    if needs_descriptions:
        if descriptions is None:
            raise ValueError("label_queries='description' and model.output_description_scorer need the tokenized "
                             "code descriptions")
        matrix = description_embeddings(descriptions, embeddings)
        for layer in needs_descriptions:
            layer.set_descriptions(matrix)
    return model


def _lexical_part(config: Config, num_labels: int, vocab_size: int, word_idf, lexical_weights) -> LexicalOutput | None:
    """The TF-IDF part (``model.lexical_output``), or None when it is off."""
    if not config.model.lexical_output:
        return None
    if word_idf is None:
        raise ValueError("model.lexical_output needs the words' idf in the training split (word_idf)")
    words = lexical_words_for(config.model, vocab_size, num_labels)
    if words and lexical_weights is None:
        raise ValueError("a TF-IDF part with model.lexical_words per code needs each code's words (lexical_weights; "
                         "lexical_fit.lexical_inputs chooses them)")
    if config.study.lexical_init == "lr" and lexical_weights is None:
        raise ValueError("study.lexical_init=lr needs TF-IDF + LR's fitted weights (lexical_weights; "
                         "lexical_fit.lexical_inputs fits them)")
    return LexicalOutput(num_labels, vocab_size, config.study.lexical_scale, words_per_label=words,
                         dtype="float32", name="lexical_output", trainable=config.study.lexical_trainable)


def _initialise_outputs(model: JLANModel, config: Config, label_priors, label_parents, lexical_weights) -> None:
    """Output biases at the codes' log-odds (``study.prior_bias``; JointLAAT's parents too) and
    the TF-IDF part at the linear model's fit, its intercepts as biases where a code has one."""
    output = model.get_layer("output")
    if config.study.prior_bias and label_priors is not None:
        p = np.clip(np.asarray(label_priors, np.float64), 1e-4, 1 - 1e-4)
        output.label_bias.assign(np.log(p / (1 - p)).astype(np.float32))
        if config.model.arch == "jointlaat":  # a parent's frequency as if its codes were independent
            absent = np.ones(max(label_parents) + 1)
            np.multiply.at(absent, label_parents, 1 - p)
            q = np.clip(1 - absent, 1e-4, 1 - 1e-4)
            model.get_layer("parent_output").label_bias.assign(np.log(q / (1 - q)).astype(np.float32))
    if lexical_weights is not None and config.model.lexical_output:
        lexical, scale = model.get_layer("lexical_output"), config.study.lexical_scale
        if lexical.words_per_label:
            word_ids, kernel, bias = lexical_weights
            lexical.set_words(word_ids, np.asarray(kernel, np.float32) / scale)
        else:
            kernel, bias = lexical_weights
            lexical.kernel.assign(np.asarray(kernel, np.float32) / scale)
        output.label_bias.assign(np.where(np.isnan(bias), output.label_bias.numpy(), bias).astype(np.float32))


def _jlan_outputs(config: Config, x, num_labels: int, dim: int, num_parents: int = 0):
    """JLAN's graph from the embedded tokens: (the outputs dict, the DualAttention layer)."""
    m, study = config.model, config.study
    for block in range(m.residual_blocks):
        x = ResidualConv1D(m.conv_filters, m.kernel_size, name=f"residual_conv_{block}")(x)
    # FastLSTM: keras.layers.LSTM's weights and results, a faster loop on CPU (named "lstm" so
    # the weight paths are those of Bidirectional(LSTM)).
    h = keras.layers.Bidirectional(FastLSTM(m.lstm_units, return_sequences=True, name="lstm"),
                                   name="bilstm")(x)                             # (B, T, 2k)
    attention = DualAttention(num_labels, m.attention_dim, m.label_queries, description_dim=dim,
                              label_chunk=m.attention_chunk, recompute=m.attention_recompute,
                              chunk_dtype=attention_dtype(m.attention_precision),
                              name="dual_attention")
    m_self, m_label, a_self, a_label = attention(h)                              # (B, L, 2k), (B, L, T)
    v, fusion_weights = JointFusion(m.fusion, scale=study.fusion_scale, label_bias=study.fusion_label_bias,
                                    dtype="float32", name="joint_fusion")((m_self, m_label))
    logits = LabelWiseOutput(num_labels, m.output_hidden_dim, shared_scorer=study.output_shared_scorer,
                             description_scorer=m.output_description_scorer, description_dim=dim,
                             num_parents=num_parents,
                             dtype="float32", name="output")(v)                  # (B, L)
    return {"logits": logits, "self_attention": a_self, "label_attention": a_label,
            "fusion_weights": fusion_weights}, attention
