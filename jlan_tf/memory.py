"""How much memory one training step needs, before it runs, and a clear stop when the machine
has less (``jlan-train`` checks before its first step; ``--skip-memory-check`` skips it).

The estimate for JLAN (B notes of T tokens, L codes, V words, e-dim word vectors, k LSTM
units per direction, d attention size, h output size, K words per code in the TF-IDF part):

    weights     4 bytes x (5 x trainable + frozen) parameters   (weight, gradient, Adam's two
                moments and the weights' moving average for each trainable one)
    tokens      B x T x (e + 4 f + 24 k + 2 d) x c               (embedding, convolutions, the
                BiLSTM's gates and states kept for the backward pass, the self-attention's tanh)
    attention   B x L' x T x (N_ATTENTION x (4 + c) / 2)         (the (batch, codes, tokens)
                scores, softmaxes and their gradients of both views; softmaxes are float32;
                L' = L, or ``model.attention_chunk`` when it is smaller)
                + B x L x T x 8 with chunks                      (the two float32 softmaxes
                every chunk keeps for the backward pass; none with ``model.attention_recompute``)
    codes       B x L x (16 k + 3 h + K) x 4                     (views, fused vector, output,
                the TF-IDF part's gathered words)
    overhead    0.2 GB                                           (traced graphs, runtime buffers)

with c the compute dtype's bytes (4 in float32, 2 in mixed_float16). ``N_ATTENTION`` counts
the (B, L, T) tensors alive at the step's peak; it was measured on CPU (float32) at small
shapes, where tests check the whole estimate against the measured resident memory growth of
a step. On a GPU add the CUDA context (~0.5 GB) and the allocator's slack.
"""

from __future__ import annotations

import logging

from jlan_tf.config import lexical_words_for

log = logging.getLogger(__name__)

N_ATTENTION = 7  # (batch, codes, tokens) tensors alive at once at the peak of a step (measured, float32)
STEP_OVERHEAD = 0.2e9  # bytes: the traced graphs and the runtime's buffers of a step (measured, CPU)
PROCESS_BASE = 1.0e9  # bytes: Python, TensorFlow and the data pipeline before the model (measured, CPU)


class MemoryBudgetError(RuntimeError):
    """The job needs more memory than the machine has; the message says what would fit."""


def parameter_counts(config, vocab: int, labels: int, embedding_dim: int = 100) -> tuple[int, int]:
    """(trainable, frozen) parameter counts of JLAN with ``config``'s sizes."""
    m, e = config.model, embedding_dim
    k2, d, h, f = 2 * m.lstm_units, m.attention_dim, m.output_hidden_dim, m.conv_filters
    trainable = (vocab * e if m.train_embeddings else 0)
    frozen = 0 if m.train_embeddings else vocab * e
    width = e
    for _ in range(m.residual_blocks):
        trainable += m.kernel_size * (width * f + f * f) + 2 * f + (width * f if width != f else 0)
        width = f
    trainable += 2 * 4 * m.lstm_units * (width + m.lstm_units + 1)
    trainable += k2 * d + d * labels + e * k2 + labels * k2           # self-attention, label queries
    frozen += labels * e + 2 * labels                                   # descriptions, running mean
    trainable += 2 * k2 + 2 * labels                                    # joint fusion
    trainable += (k2 * h + h if h else 0) + labels * (h or k2) + labels + (e * (h or k2) if m.output_description_scorer else 0)
    if m.lexical_output:
        words = lexical_words_for(m, vocab, labels)
        lexical = labels * words if words else vocab * labels
        frozen += vocab + (labels * words if words else 0)
        if config.study.lexical_trainable:
            trainable += lexical
        else:
            frozen += lexical
    return trainable, frozen


def step_memory_bytes(config, vocab: int, labels: int, batch: int, tokens: int, precision: str = "float32",
                      embedding_dim: int = 100) -> int:
    """The estimate above, in bytes, for one training step (without the process's base)."""
    m = config.model
    c = 2 if precision == "mixed_float16" else 4
    trainable, frozen = parameter_counts(config, vocab, labels, embedding_dim)
    weights = 4 * (5 * trainable + frozen)
    per_token = embedding_dim + 4 * m.conv_filters + 24 * m.lstm_units + 2 * m.attention_dim
    token_level = batch * tokens * per_token * c
    chunk = min(labels, m.attention_chunk) if m.attention_chunk else labels
    attention = batch * chunk * tokens * N_ATTENTION * (4 + c) / 2
    if chunk < labels and not m.attention_recompute:
        attention += batch * labels * tokens * 8
    words = lexical_words_for(m, vocab, labels) if m.lexical_output else 0
    code_level = batch * labels * (16 * m.lstm_units + 3 * m.output_hidden_dim + words) * 4
    return int(STEP_OVERHEAD + weights + token_level + attention + code_level)


def available_bytes() -> tuple[int, str]:
    """(bytes, what they are): GPU memory when TensorFlow sees a GPU, else host memory available."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        try:
            info = tf.config.experimental.get_memory_info("GPU:0")
            total = tf.config.experimental.get_device_details(gpus[0]).get("memory_limit") or 0
            if total:
                return int(total) - int(info.get("current", 0)), "GPU memory"
        except (ValueError, RuntimeError):
            pass
        return 0, "GPU memory (unknown)"
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["MemAvailable"].split()[0]) * 1024, "host memory available"


def check_step_memory(config, vocab: int, labels: int, embedding_dim: int = 100, precision: str = "float32") -> int:
    """Raises ``MemoryBudgetError`` when a training step of ``config`` will not fit; returns the estimate."""
    batch, tokens = config.data.batch_size, config.data.max_tokens
    have, what = available_bytes()
    on_cpu = what.startswith("host")

    base = PROCESS_BASE if on_cpu else 0

    def total(b: int, t: int) -> float:  # a step of b notes of t tokens, with the process's base on CPU
        return step_memory_bytes(config, vocab, labels, b, t, precision, embedding_dim) + base

    need_total = total(batch, tokens)
    if not have or need_total <= have:
        log.info("one training step: about %.1f GB (%s: %.1f GB)", need_total / 1e9, what, have / 1e9)
        return int(need_total - base)
    fits = [b for b in (32, 16, 8, 4, 2, 1) if b < batch and total(b, tokens) <= have]
    shorter = [t for t in (4000, 3000, 2500, 2000, 1500, 1000, 500) if t < tokens and total(batch, t) <= have]
    hints = []
    if fits:
        hints.append(f"--set data.batch_size={fits[0]}")
    if shorter:
        hints.append(f"--set data.max_tokens={shorter[0]}")
    if precision == "float32" and not on_cpu:
        hints.append("--set model.precision=mixed_float16")
    raise MemoryBudgetError(
        f"one training step needs about {need_total / 1e9:.1f} GB (batch {batch}, {tokens} tokens, {labels} codes, "
        f"{vocab} words, {precision}) but {what} is {have / 1e9:.1f} GB; "
        + (f"what would fit: {' or '.join(hints)}" if hints else "no smaller batch or note length fits")
        + " (--skip-memory-check trains anyway)")


def check_fits(need: float, what_for: str, hints: str) -> None:
    """Raises ``MemoryBudgetError`` when ``need`` bytes (plus the process's base) exceed the host
    memory available now."""
    have, what = available_bytes()
    if have and need + PROCESS_BASE > have and what.startswith("host"):
        raise MemoryBudgetError(f"{what_for} needs about {(need + PROCESS_BASE) / 1e9:.1f} GB but {what} is "
                                f"{have / 1e9:.1f} GB; {hints}")


def lexical_fit_bytes(train_nonzeros: int, labels: int, words_per_label: int, workers: int) -> int:
    """The TF-IDF part's fit (``lexical_fit``): the counts, TF-IDF and binary matrices (12 bytes
    a non-zero each, the workers share them), the candidates' counts for 512 codes at a time,
    and each worker's copy of its codes' columns."""
    matrices = 3 * 12 * train_nonzeros
    candidates = 512 * min(train_nonzeros, 50_000) * 12
    workers_part = workers * 12 * train_nonzeros // 4
    return int(matrices + candidates + workers_part + 16 * labels * max(words_per_label, 1))


def export_bytes(weight_bytes: int) -> int:
    """An export holds the model, its portable copy and the written variables: three times the weights."""
    return 3 * int(weight_bytes)
