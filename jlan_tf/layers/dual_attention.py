import contextlib
import functools
import threading

import keras
import tensorflow as tf
from keras import ops

_NEG_INF = -1e9
_VIEWS_ONLY = threading.local()


@contextlib.contextmanager
def views_only():
    """Inside this block (when a graph is traced), ``DualAttention`` layers with ``label_chunk``
    compute their views chunk by chunk and no attention maps, in inference too: for callers
    that need the scores only (``JLANModel.predict_step``, the SavedModel's ``serving_default``),
    so that predicting a batch never holds (batch, labels, tokens) maps of every label."""
    before = getattr(_VIEWS_ONLY, "on", False)
    _VIEWS_ONLY.on = True
    try:
        yield
    finally:
        _VIEWS_ONLY.on = before


@functools.cache
def native_bfloat16() -> bool:
    """Whether this machine's CPU multiplies bfloat16 matrices natively (AVX512_BF16 or AMX);
    read once per process (``resolve_chunk_dtype`` asks at every traced or eager training call)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_chunk_dtype(chunk_dtype):
    """``"auto"``: bfloat16 on a machine that trains on a CPU with bfloat16 instructions, else
    None (the compute dtype); any other value as given. Resolved where and when a training
    step is traced, so a model saved on one machine and trained further on another gets that
    machine's choice."""
    if chunk_dtype != "auto":
        return chunk_dtype
    return "bfloat16" if not tf.config.list_physical_devices("GPU") and native_bfloat16() else None


def masked_softmax(scores, mask):
    """Softmax over the last axis in float32; `mask` (batch, tokens) gives padding zero weight."""
    scores = ops.cast(scores, "float32")
    if mask is not None:
        scores = ops.where(ops.expand_dims(mask, 1), scores, _NEG_INF)
    return ops.softmax(scores, axis=-1)


def _chunk_softmaxes(h, z, w_b, queries, keep):
    """The two float32 softmaxes (B, c, n) of a chunk of c labels."""
    valid = keep > 0.5
    a_self = masked_softmax(ops.einsum("bnd,dl->bln", z, w_b), valid)
    a_label = masked_softmax(ops.einsum("lh,bnh->bln", queries, h), valid)
    return a_self, a_label


def _plain_chunk_views(values, h, z, w_b, queries, keep):
    """A chunk's weighted sums (A_s V, A_l V) of `values` V (the views M_s, M_l for V = H),
    differentiated by TensorFlow (all intermediates kept)."""
    a_self, a_label = _chunk_softmaxes(h, z, w_b, queries, keep)
    return ops.matmul(ops.cast(a_self, h.dtype), values), ops.matmul(ops.cast(a_label, h.dtype), values)


def _softmax_backward(a, d_a):
    """The gradient of the scores from that of softmax `a` (float32), per row."""
    return a * (d_a - tf.reduce_sum(d_a * a, axis=-1, keepdims=True))


@tf.custom_gradient
def _chunk_views(values, h, z, w_b, queries, keep):
    """A chunk's weighted sums (A_s V, A_l V) whose backward pass keeps only the two softmaxes:
    the scores, their masking and exponentials are not stored, and nothing is computed twice.
    For V = H (passed twice) they are the views M_s, M_l, and H's gradient is the two parts' sum."""
    a_self, a_label = _chunk_softmaxes(h, z, w_b, queries, keep)
    p_self, p_label = tf.cast(a_self, h.dtype), tf.cast(a_label, h.dtype)
    forward = (tf.matmul(p_self, values), tf.matmul(p_label, values))

    def grad(d_self, d_label):
        # Cast again rather than keep the forward's casts: in bfloat16 they would be two more
        # (batch, labels, tokens) tensors held until the backward pass (16 x 8,921 x 2,500: 1.4 GB).
        p_self, p_label = tf.cast(a_self, h.dtype), tf.cast(a_label, h.dtype)
        ds_self = _softmax_backward(a_self, tf.cast(tf.matmul(d_self, values, transpose_b=True), tf.float32))
        ds_label = _softmax_backward(a_label, tf.cast(tf.matmul(d_label, values, transpose_b=True), tf.float32))
        ds_self, ds_label = tf.cast(ds_self, h.dtype), tf.cast(ds_label, h.dtype)  # (B, c, n)
        d_values = tf.matmul(p_self, d_self, transpose_a=True) + tf.matmul(p_label, d_label, transpose_a=True)
        d_h = tf.einsum("bln,lh->bnh", ds_label, queries)
        d_z = tf.einsum("bln,dl->bnd", ds_self, w_b)
        d_w_b = tf.einsum("bnd,bln->dl", z, ds_self)
        d_queries = tf.einsum("bln,bnh->lh", ds_label, h)
        return d_values, d_h, d_z, d_w_b, d_queries, tf.zeros_like(keep)

    return forward, grad


@keras.saving.register_keras_serializable(package="jlan_tf")
class DualAttention(keras.layers.Layer):
    """JLAN's two label-wise views of a document: self-attention and label attention.

    Self-attention: `A_s = softmax_n(W_b tanh(W_a H^T))`, `W_a` (attention_dim x 2k),
    `W_b` (labels x attention_dim). Label attention: `A_l = softmax_n(C H^T)` with label
    queries `C` (labels x 2k). Each view is `M = A H`. Softmaxes are masked and in float32.

    With `label_queries="description"`, `C = P(D) + E`: `D` is a fixed (labels x
    description_dim) matrix of code-description embeddings (the mean word vector of each
    description, set with `set_descriptions` after the layer is built and saved with the
    weights; small random values until then), `P` a learned projection and `E` a learned offset that starts at zero, so
    rare codes start from their meaning. With `"trainable"`, `C` is a plain trainable matrix.

    Memory: each view holds (batch, labels, tokens) tensors (scores, softmax, their gradients);
    at 16 notes x 8,921 codes x 2,500 tokens each is 1.4 GB in float32. With `label_chunk=c`
    (and more than c labels), training computes the views c labels at a time with a
    backward pass of its own that keeps only the two float32 softmaxes of each chunk: a step
    holds 2 (batch, labels, tokens) tensors and the transient ones of one chunk, with the
    same arithmetic as without chunks. With `recompute=True` as well, each chunk runs inside
    `tf.recompute_grad` and keeps nothing: one chunk's tensors at a time, for about a third
    more attention arithmetic (for when even the two softmaxes do not fit). The attention
    maps are then not computed in training (returned with 0 tokens); inference is unchanged,
    except inside ``views_only()`` (scores only: the same chunks, no maps). With
    `chunk_dtype="bfloat16"`, training's chunks take their matrix products in bfloat16 (the
    softmaxes and their gradients stay float32; the views come back in the compute dtype):
    on CPUs with bfloat16 instructions about twice as fast a product. Inference is unchanged.
    `weighted_sums(h, values)` gives the two attentions' weighted sums of any `values` (B,
    tokens, width) the same way, chunks and backward pass included: what
    `jlan_tf.projected_scores` uses to weigh `H` already projected to the output's width.

    Args:
        num_labels: int. Number of labels (codes).
        attention_dim: int. Size `d` of the self-attention projection (paper: 200).
        label_queries: string. `"description"` or `"trainable"`.
        description_dim: int. Width of the description embeddings (the word-vector size).
        label_chunk: int. Labels per chunk in training (0: all at once, the maps kept).
        recompute: bool. With `label_chunk`: recompute each chunk in the backward pass
            instead of keeping its softmaxes.
        chunk_dtype: string or None. With `label_chunk`: the dtype of the chunks' matrix
            products in training (`"bfloat16"`); None: the compute dtype; `"auto"`: bfloat16
            where training runs on a CPU with bfloat16 instructions, decided when the step
            is traced (`resolve_chunk_dtype`).
        **kwargs: other keyword arguments for `keras.layers.Layer`.

    Call arguments:
        inputs: float tensor `H` of shape `(batch, tokens, hidden)`.
        mask: optional bool tensor `(batch, tokens)`.

    Returns:
        A tuple `(M_s, M_l, A_s, A_l)`: views `(batch, labels, hidden)` in the compute
        dtype and attention maps `(batch, labels, tokens)` in float32.

    Example:
    >>> attention = DualAttention(num_labels=3, attention_dim=4, label_queries="trainable")
    >>> m_s, m_l, a_s, a_l = attention(keras.random.normal((2, 7, 6)))
    >>> m_s.shape, a_l.shape
    ((2, 3, 6), (2, 3, 7))

    Reference: Li, Zhang et al., "JLAN: medical code prediction via joint learning
    attention networks and denoising mechanism", BMC Bioinformatics 22:590, 2021.
    """

    def __init__(self, num_labels, attention_dim=200, label_queries="description", description_dim=100, label_chunk=0,
                 recompute=False, chunk_dtype=None, **kwargs):
        super().__init__(**kwargs)
        if label_queries not in ("description", "trainable"):
            raise ValueError(f"label_queries must be 'description' or 'trainable', got {label_queries!r}")
        self.num_labels = num_labels
        self.attention_dim = attention_dim
        self.label_queries = label_queries
        self.description_dim = description_dim
        self.label_chunk = label_chunk
        self.recompute = recompute
        self.chunk_dtype = chunk_dtype
        self.supports_masking = True

    def build(self, input_shape):
        hidden = input_shape[-1]
        self.w_a = self.add_weight(name="w_a", shape=(hidden, self.attention_dim), initializer="glorot_uniform")
        self.w_b = self.add_weight(name="w_b", shape=(self.attention_dim, self.num_labels), initializer="glorot_uniform")
        if self.label_queries == "description":
            self.descriptions = self.add_weight(name="descriptions", shape=(self.num_labels, self.description_dim),
                                                initializer="random_normal", trainable=False)
            self.query_projection = self.add_weight(name="query_projection", shape=(self.description_dim, hidden),
                                                    initializer="glorot_uniform")
            self.query_offsets = self.add_weight(name="query_offsets", shape=(self.num_labels, hidden),
                                                 initializer="zeros")
        else:
            self.queries = self.add_weight(name="queries", shape=(self.num_labels, hidden), initializer="glorot_uniform")

    def set_descriptions(self, matrix):
        """Sets the (labels x description_dim) description embeddings."""
        self.descriptions.assign(ops.convert_to_tensor(matrix, self.descriptions.dtype))

    def label_query_matrix(self):
        if self.label_queries == "description":
            return ops.matmul(self.descriptions, self.query_projection) + self.query_offsets
        return self.queries

    def call(self, inputs, mask=None, training=None):
        chunked = training or getattr(_VIEWS_ONLY, "on", False)
        if chunked and self.label_chunk and self.num_labels > self.label_chunk:
            return self._chunked_views(inputs, mask, resolve_chunk_dtype(self.chunk_dtype) if training else None)
        h = inputs                                                        # (B, n, 2k)
        self_scores = ops.matmul(ops.tanh(ops.matmul(h, self.w_a)), self.w_b)  # (B, n, l)
        self_attention = masked_softmax(ops.transpose(self_scores, (0, 2, 1)), mask)  # (B, l, n)
        queries = ops.cast(self.label_query_matrix(), h.dtype)            # (l, 2k)
        label_scores = ops.einsum("lh,bnh->bln", queries, h)              # (B, l, n)
        label_attention = masked_softmax(label_scores, mask)
        m_self = ops.matmul(ops.cast(self_attention, h.dtype), h)         # (B, l, 2k)
        m_label = ops.matmul(ops.cast(label_attention, h.dtype), h)
        return m_self, m_label, self_attention, label_attention

    def _chunked_views(self, h, mask, dtype=None):
        """(M_s, M_l) a chunk of labels at a time, the attention maps not returned (0 tokens)."""
        m_self, m_label = self.weighted_sums(h, h, mask, dtype)
        empty = ops.zeros((ops.shape(h)[0], self.num_labels, 0), "float32")
        return m_self, m_label, empty, empty

    def weighted_sums(self, h, values, mask=None, dtype=None, chunk=None):
        """(A_s V, A_l V), each (B, labels, width), for `values` V (B, tokens, width) weighted by
        the two attentions over `h` (B, tokens, hidden), `chunk` labels at a time (default
        `label_chunk`, else all), without maps; V = H gives the views. Each chunk keeps only its
        two softmaxes for the backward pass (``_chunk_views``), or nothing with ``recompute``
        (the chunk is computed again). ``dtype``: the chunks' matrix products in this dtype
        (None: the compute dtype); the sums come back in V's dtype."""
        out_dtype = values.dtype
        chunk = chunk or self.label_chunk or self.num_labels
        z = ops.tanh(ops.matmul(h, ops.cast(self.w_a, h.dtype)))          # (B, n, d), shared by the chunks
        dtype = dtype or h.dtype
        same = values is h
        h, z = ops.cast(h, dtype), ops.cast(z, dtype)
        values = h if same else ops.cast(values, dtype)
        queries = ops.cast(self.label_query_matrix(), dtype)              # (l, 2k)
        w_b = ops.cast(self.w_b, dtype)
        keep = ops.ones(ops.shape(h)[:2], dtype) if mask is None else ops.cast(mask, dtype)  # (B, n)
        sums = tf.recompute_grad(_plain_chunk_views) if self.recompute else _chunk_views
        parts = []
        for s in range(0, self.num_labels, chunk):
            # One chunk after the other: left to itself, a graph may run them side by side, each
            # holding its (batch, chunk, tokens) scores, and the peak memory varies from run to run.
            with tf.control_dependencies(parts[-1] if parts else []):
                parts.append(sums(values, h, z, w_b[:, s:s + chunk], queries[s:s + chunk], keep))
        return tuple(ops.cast(ops.concatenate([p[i] for p in parts], axis=1), out_dtype) for i in (0, 1))

    def views_for(self, h, labels, mask=None, values=None):
        """The views (M_s, M_l), each (B, C, hidden), of the labels `labels` (B, C) int indices
        (each note its own), without maps: the same numbers as ``call`` for those labels. With
        `values` V (B, tokens, width), the weighted sums (A_s V, A_l V) instead (as ``weighted_sums``)."""
        values = h if values is None else values
        z = ops.tanh(ops.matmul(h, ops.cast(self.w_a, h.dtype)))          # (B, n, d)
        w_b = ops.take(ops.transpose(ops.cast(self.w_b, h.dtype)), labels, axis=0)    # (B, C, d)
        queries = ops.take(ops.cast(self.label_query_matrix(), h.dtype), labels, axis=0)  # (B, C, 2k)
        a_self = masked_softmax(ops.einsum("bnd,bcd->bcn", z, w_b), mask)
        a_label = masked_softmax(ops.einsum("bch,bnh->bcn", queries, h), mask)
        return ops.matmul(ops.cast(a_self, values.dtype), values), ops.matmul(ops.cast(a_label, values.dtype), values)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        batch, tokens, hidden = input_shape
        view, attention = (batch, self.num_labels, hidden), (batch, self.num_labels, tokens)
        return view, view, attention, attention

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, attention_dim=self.attention_dim,
                      label_queries=self.label_queries, description_dim=self.description_dim,
                      label_chunk=self.label_chunk, recompute=self.recompute, chunk_dtype=self.chunk_dtype)
        return config
