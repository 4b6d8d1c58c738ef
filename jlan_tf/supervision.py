"""Evidence supervision: an auxiliary loss that pulls a code's fused attention onto the span a
coder marked as its reason (``train.evidence_weight``; off by default).

Where training notes carry coders' evidence spans (CodiEsp's ``X`` files, prepared with
``--lang es``; MDACE does the same for MIMIC-III), each (note, code) pair with a span adds

    loss_pair = -(1 / |S|) * sum_{t in S} log(p_t + EPSILON),   p = (a' A_s + b' A_l) / (a' + b')

the cross-entropy between the uniform distribution over the span's tokens ``S`` and the
fused attention ``p`` (joint fusion's weights ``a', b'`` on the two maps, normalised so ``p``
sums to 1 for every fusion mode). Every token of a multi-word span is pulled up, not just
one (which ``-log sum_S p`` would allow), because evidence is judged on the top few tokens.
The training loss is ``BCE + evidence_weight * mean over the batch's pairs``; notes or codes
without a span add nothing. This uses labels LR and the unsupervised model never see: the
README's evidence section reports it as its own row, never as plain JLAN.
"""

from __future__ import annotations

import tensorflow as tf

EPSILON = 1e-6


def span_attention_loss(self_attention, label_attention, fusion_weights, evidence):
    """The summed per-pair losses of a batch and the number of pairs, as float32 scalars.

    Args:
        self_attention, label_attention: (B, L, T) attention maps (rows sum to 1 over T).
        fusion_weights: (B, L, 2) the weights of the two maps (``JointFusion``'s second output).
        evidence: (B, N, 2) int32 rows ``(label, token position)``, one per gold span token;
            label -1 marks padding (``make_dataset(..., evidence=True)`` pads with -1).
    """
    evidence = tf.cast(evidence, tf.int32)
    label, position = evidence[..., 0], evidence[..., 1]
    valid = tf.cast(label >= 0, tf.float32)                                      # (B, N)
    batch, num_labels = tf.shape(self_attention)[0], tf.shape(self_attention)[1]
    row = tf.broadcast_to(tf.range(tf.shape(label)[0])[:, None], tf.shape(label))
    label, position = tf.maximum(label, 0), tf.maximum(position, 0)              # padding reads entry 0
    weights = tf.gather_nd(tf.cast(fusion_weights, tf.float32), tf.stack([row, label], -1))   # (B, N, 2)
    weights = weights / tf.maximum(tf.reduce_sum(weights, -1, keepdims=True), EPSILON)
    at = tf.stack([row, label, position], -1)
    p = (weights[..., 0] * tf.gather_nd(tf.cast(self_attention, tf.float32), at)
         + weights[..., 1] * tf.gather_nd(tf.cast(label_attention, tf.float32), at))         # (B, N)
    pair = tf.reshape(row * num_labels + label, [-1])
    span_size = tf.math.unsorted_segment_sum(tf.reshape(valid, [-1]), pair, batch * num_labels)
    share = valid * tf.reshape(tf.gather(span_size, pair), tf.shape(valid))      # each pair counts once
    total = tf.reduce_sum(tf.math.divide_no_nan(valid, share) * -tf.math.log(p + EPSILON))
    return total, tf.reduce_sum(tf.cast(span_size > 0, tf.float32))
