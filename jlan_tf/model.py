"""The JLAN model: embedding -> residual Conv1D -> BiLSTM -> dual attention -> joint fusion
-> label-wise output, trained with the truncated BCE of ``jlan_tf.truncation``.

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

from jlan_tf.config import ModelConfig
from jlan_tf.layers import DualAttention, FastLSTM, JointFusion, LabelWiseOutput, ResidualConv1D
from jlan_tf.tokenization import UNK_ID
from jlan_tf.truncation import drop_rate, per_entry_bce, truncation_mask

log = logging.getLogger(__name__)


def set_precision(precision: str = "auto") -> str:
    """Sets Keras' global dtype policy; ``auto`` is mixed_float16 with a GPU, else float32."""
    if precision == "auto":
        precision = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_dtype_policy(precision)
    return precision


@keras.saving.register_keras_serializable(package="jlan_tf")
class JLANModel(keras.Model):
    """A functional model with JLAN's training step (truncated BCE) and a plain-BCE test step.

    Args:
        d_max: float. Largest share of positive entries dropped per batch (0 = plain BCE).
        warmup_steps: int. Steps until the drop rate reaches ``d_max``.
        stop_step: int or None. Step from which nothing is dropped any more.
    """

    def __init__(self, *args, d_max=0.15, warmup_steps=1000, stop_step=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.d_max, self.warmup_steps, self.stop_step = d_max, warmup_steps, stop_step
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.dropped_tracker = keras.metrics.Sum(name="dropped")
        self.mask_hits = keras.metrics.Sum(name="mask_hits")      # dropped entries that were noise
        self.noisy_positives = keras.metrics.Sum(name="noisy_positives")

    @property
    def metrics(self):
        return [self.loss_tracker, self.dropped_tracker, self.mask_hits, self.noisy_positives]

    def train_step(self, data):
        x, y = data[0], data[1]  # (x, y) or (x, y, sample_weight)
        labels = y["labels"]
        rate = drop_rate(self.optimizer.iterations, self.d_max, self.warmup_steps, self.stop_step)
        with tf.GradientTape() as tape:
            logits = self(x, training=True)["logits"]
            loss_matrix = per_entry_bce(labels, logits)                      # (B, L)
            keep = truncation_mask(loss_matrix, labels, rate)                # (B, L), no gradient
            kept_here = tf.reduce_sum(keep)
            # The mean over kept entries of the global batch: gradients of the replicas add up.
            kept_all = tf.distribute.get_replica_context().all_reduce("sum", kept_here)
            loss = tf.reduce_sum(loss_matrix * keep) / tf.maximum(kept_all, 1.0)
            scaled_loss = self.optimizer.scale_loss(loss)                    # loss scaling under mixed_float16
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.loss_tracker.update_state(loss * replicas)
        dropped = tf.cast(tf.size(keep), tf.float32) - kept_here
        self.dropped_tracker.update_state(dropped)
        logs = {"loss": self.loss_tracker.result(), "drop_rate": rate, "dropped": self.dropped_tracker.result()}
        if "clean_labels" in y:  # noise = coded but not truly there; does the mask catch it?
            noisy = tf.cast(labels > 0.5, tf.float32) * tf.cast(y["clean_labels"] < 0.5, tf.float32)
            self.mask_hits.update_state(tf.reduce_sum(noisy * (1.0 - keep)))
            self.noisy_positives.update_state(tf.reduce_sum(noisy))
            logs["mask_precision"] = self.mask_hits.result() / tf.maximum(self.dropped_tracker.result(), 1.0)
            logs["mask_recall"] = self.mask_hits.result() / tf.maximum(self.noisy_positives.result(), 1.0)
        return logs

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
                "stop_step": self.stop_step}


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
               label_priors: np.ndarray | None = None) -> JLANModel:
    """JLAN with the functional API.

    Args:
        config: the model settings.
        embeddings: (vocab, dim) initial word vectors (word2vec); row 0 is padding.
        num_labels: number of codes.
        descriptions: per label, the token ids of its description (needed when
            ``config.label_queries == "description"``).
        label_priors: per label, its frequency in the training split; with
            ``config.prior_bias`` the output biases start at their log-odds, so training does
            not spend its first hundreds of steps learning how common each code is.
    """
    vocab_size, dim = embeddings.shape
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    embedding = keras.layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")
    x = embedding(tokens)                                                        # (B, T, e)
    x = keras.layers.Dropout(config.embedding_dropout, name="embedding_dropout")(x)
    for block in range(config.residual_blocks):
        x = ResidualConv1D(config.conv_filters, config.kernel_size, name=f"residual_conv_{block}")(x)
    # FastLSTM: keras.layers.LSTM's weights and results, a faster loop on CPU (named "lstm" so
    # the weight paths are those of Bidirectional(LSTM)).
    h = keras.layers.Bidirectional(FastLSTM(config.lstm_units, return_sequences=True, name="lstm"),
                                   name="bilstm")(x)                             # (B, T, 2k)
    attention = DualAttention(num_labels, config.attention_dim, config.label_queries, description_dim=dim,
                              name="dual_attention")
    m_self, m_label, a_self, a_label = attention(h)                              # (B, L, 2k), (B, L, T)
    v, fusion_weights = JointFusion(config.fusion, dtype="float32", name="joint_fusion")((m_self, m_label))
    logits = LabelWiseOutput(num_labels, config.output_hidden_dim, dtype="float32", name="output")(v)  # (B, L)
    outputs = {"logits": logits, "self_attention": a_self, "label_attention": a_label,
               "fusion_weights": fusion_weights}
    model = JLANModel(inputs={"tokens": tokens}, outputs=outputs, name="jlan",
                      d_max=d_max, warmup_steps=warmup_steps, stop_step=stop_step)
    # Assigned, not a Constant initializer: that would copy the matrix into the JSON config.
    embedding.embeddings.assign(embeddings)
    if config.prior_bias and label_priors is not None:
        p = np.clip(np.asarray(label_priors, np.float64), 1e-4, 1 - 1e-4)
        model.get_layer("output").label_bias.assign(np.log(p / (1 - p)).astype(np.float32))
    if config.label_queries == "description":
        if descriptions is None:
            raise ValueError("label_queries='description' needs the tokenized code descriptions")
        attention.set_descriptions(description_embeddings(descriptions, embeddings))
    return model
