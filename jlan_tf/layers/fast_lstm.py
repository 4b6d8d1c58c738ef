import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="jlan_tf")
class FastLSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` with a faster training loop where cuDNN is not used (CPU, export).

    The same layer, the same weights in the same layout (`kernel` (input, 4 units),
    `recurrent_kernel` (units, 4 units), `bias`, gates in Keras' i, f, c, o order), so
    checkpoints and `Bidirectional(FastLSTM(...))` read and write exactly what
    `Bidirectional(LSTM(...))` does. Only the computation differs:

    - the input projection `x W + b` of all time steps is one matrix product before the
      loop (Keras multiplies inside the loop, one time step at a time);
    - the backward pass is written by hand (`tf.custom_gradient`): one loop that does one
      `(batch, 4 units) x (4 units, units)` product per step on a pre-transposed matrix and
      keeps the per-step gate gradients, after which the weight gradients are two large
      products. TensorFlow's automatic gradient of the step loop stacks every intermediate
      and runs a batched product with a transposed operand at each step, which is several
      times slower on CPU.

    On a GPU, with `use_cudnn` "auto" or True and cuDNN-compatible arguments, Keras' cuDNN
    kernel is used as before. With `use_cudnn=False` this loop is used on every device:
    the SavedModel export does that, so an export made on a GPU machine contains no cuDNN
    op and serves on a CPU-only TensorFlow. Other configurations (dropout, recurrent
    dropout, other activations, no bias, unroll) fall back to Keras' own loop.

    On Keras' paths (cuDNN, fallbacks) a row that is all padding gets its first step
    unmasked, since cuDNN rejects sequences of length 0.

    Masking: padding must sit at the end of each row (what `Embedding(mask_zero=True)`
    gives when id 0 is only used for padding, as in this project). Outputs at padded steps
    are 0 (Keras' `zero_output_for_mask`); a row that is all padding gives zeros. With
    `return_sequences=False` the last output is the one at the last time step, so use it
    with `return_sequences=True` when rows are padded.

    Args:
        jit_loops: bool. Compile the step loops with XLA (default True; about twice as fast
            on CPU). The SavedModel export turns it off, so TF Serving needs no XLA.
        **kwargs: those of `keras.layers.LSTM`.

    Input shape: `(batch, time, features)`; output `(batch, time, units)` with
    `return_sequences=True`, else `(batch, units)`.
    """

    def __init__(self, units, jit_loops=True, **kwargs):
        super().__init__(units, **kwargs)
        self.jit_loops = jit_loops

    def get_config(self):
        return {**super().get_config(), "jit_loops": self.jit_loops}

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._loop_applies():
            if mask is not None and not isinstance(mask, (list, tuple)):
                mask = _no_empty_rows(mask)
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.go_backwards:  # Keras' convention: outputs in processing (reversed) order
            sequences = tf.reverse(sequences, [1])
            mask = None if mask is None else tf.reverse(mask, [1])
        x = tf.transpose(sequences, [1, 0, 2])                              # (T, B, I)
        if mask is None:
            m = tf.ones_like(x[..., :1])
        else:
            m = tf.cast(tf.transpose(mask), x.dtype)[..., None]             # (T, B, 1)
        steps = tf.shape(x)[0]
        if self.jit_loops:  # padded here, on the narrow input: padding z would copy (T, B, 4U)
            x, m = pad_time(x, m)
        kernel = tf.cast(tf.convert_to_tensor(self.cell.kernel), x.dtype)
        recurrent = tf.cast(tf.convert_to_tensor(self.cell.recurrent_kernel), x.dtype)
        bias = tf.cast(tf.convert_to_tensor(self.cell.bias), x.dtype)
        z = tf.einsum("tbi,ig->tbg", x, kernel) + bias                      # (T, B, 4U)
        h0, c0 = (tf.cast(s, x.dtype) for s in initial_state)
        outputs, c = lstm_sequence(z, m, recurrent, h0, c0, jit=self.jit_loops, keep_for_gradient=bool(training))
        outputs = tf.transpose(outputs[:steps], [1, 0, 2])
        return outputs[:, -1], outputs, [outputs[:, -1], c]

    def _loop_applies(self) -> bool:
        if keras.backend.backend() != "tensorflow" or self.unroll or not self.use_bias:
            return False
        if self.dropout or self.recurrent_dropout:
            return False
        if self.cell.activation is not keras.activations.tanh or \
                self.cell.recurrent_activation is not keras.activations.sigmoid:
            return False
        cudnn = self.use_cudnn is True or (self.use_cudnn == "auto" and tf.config.list_logical_devices("GPU"))
        return not cudnn


def _no_empty_rows(mask):
    """cuDNN rejects a sequence of length 0 (an empty note in a batch): such a row gets its
    first step unmasked. Its output is meaningless either way; the attention that follows
    masks every position of an empty row."""
    empty = tf.logical_not(tf.reduce_any(mask, axis=1, keepdims=True))                    # (B, 1)
    first = tf.concat([tf.ones_like(mask[:, :1]), tf.zeros_like(mask[:, 1:])], axis=1)  # (B, T)
    return tf.logical_or(mask, tf.logical_and(empty, first))


def lstm_sequence(z, m, recurrent, h0, c0, jit: bool = True, keep_for_gradient: bool = True):
    """The LSTM recurrence over pre-projected inputs, with a hand-written gradient.

    Args:
        z: (T, B, 4U) the input projection `x W + b` of every step (gates i, f, c, o).
        m: (T, B, 1) 1 for real steps, 0 for padding (padding at the end of a row, or at the
            start when the row was reversed); the state is reset to 0 at padded steps.
        recurrent: (U, 4U) the recurrent kernel.
        h0, c0: (B, U) the initial state.
        jit: compile the two step loops with XLA (about twice as fast on CPU, where
            TensorFlow's per-operation cost dominates a loop of small operations). Pad the
            time axis first (``pad_time``), so that a few shapes are compiled, not one per
            batch length.
        keep_for_gradient: keep, per step, what the backward pass needs (training). Without
            it (inference) the loop does less; a gradient asked for anyway recomputes it.

    Returns:
        `(outputs (T, B, U), last cell state (B, U))`; outputs are 0 at padded steps.
    """
    forward, lean, backward = (_forward_jit, _lean_jit, _backward_jit) if jit else (_forward, _lean, _backward)

    @tf.custom_gradient
    def run(z, recurrent, h0, c0):
        # stop_gradient: the tape must not trace into the compiled loop; grad() below is its gradient.
        inputs = [tf.stop_gradient(v) for v in (z, m, recurrent, h0, c0)]
        if keep_for_gradient:
            hs, saved, c_last = forward(*inputs)
        else:
            (hs, c_last), saved = lean(*inputs), None

        def grad(d_outputs, d_c_last):
            saved_ = forward(*inputs)[1] if saved is None else saved
            units = tf.shape(recurrent)[0]
            d_c_last = tf.zeros_like(c0) if d_c_last is None else d_c_last
            dz, dh0, dc0 = backward(d_outputs, saved_, m, tf.transpose(recurrent), d_c_last)
            h_prev = tf.concat([h0[None], hs[:-1]], 0)
            d_recurrent = tf.matmul(tf.reshape(h_prev, [-1, units]), tf.reshape(dz, [-1, 4 * units]),
                                    transpose_a=True)
            return dz, d_recurrent, dh0, dc0

        return (hs, c_last), grad

    return run(z, recurrent, h0, c0)


JIT_TIME_MULTIPLE = 32


def pad_time(x, m):
    """Pads the time axis of x (T, B, I) and m (T, B, 1) to a multiple of ``JIT_TIME_MULTIPLE``.
    The padded steps come last and are masked: they change no output before them."""
    pad = (-tf.shape(x)[0]) % JIT_TIME_MULTIPLE
    return tf.pad(x, [[0, pad], [0, 0], [0, 0]]), tf.pad(m, [[0, pad], [0, 0], [0, 0]])


def _cell(zt, h, c, mt, recurrent, units):
    """One step: (sigmoid of all gate pre-activations, g, new c, tanh(c), new h). The state is
    reset to 0 where ``mt`` is 0, so padded steps output 0."""
    zt = zt + tf.matmul(h, recurrent)
    sig = tf.sigmoid(zt)
    g = tf.tanh(zt[:, 2 * units:3 * units])
    i, f, _, o = tf.split(sig, 4, axis=-1)
    c = (f * c + i * g) * mt
    tanh_c = tf.tanh(c)
    return sig, g, c, tanh_c, o * tanh_c


def _forward(z, m, recurrent, h0, c0):
    """The step loop: outputs (T, B, U), what the backward pass needs (T, B, 6U), last c."""
    steps, units = tf.shape(z)[0], tf.shape(recurrent)[0]

    def step(t, h, c, outputs, saved):
        c_prev = c
        sig, g, c, tanh_c, h = _cell(z[t], h, c, m[t], recurrent, units)
        i, f, _, o = tf.split(sig, 4, axis=-1)
        d_i, d_f, _, d_o = tf.split(sig * (1 - sig), 4, axis=-1)
        # For the backward pass: dz = [dc, dc, dc, dh] * p, dc += dh * q, dc_prev = dc * f.
        p = tf.concat([g * d_i, c_prev * d_f, i * (1 - g * g), tanh_c * d_o], -1)
        q = o * (1 - tanh_c * tanh_c)
        return t + 1, h, c, outputs.write(t, h), saved.write(t, tf.concat([p, q, f], -1))

    arrays = lambda: tf.TensorArray(z.dtype, size=steps)
    _, _, c_last, outputs, saved = tf.while_loop(lambda t, *_: t < steps, step, (0, h0, c0, arrays(), arrays()),
                                                    maximum_iterations=steps)
    return outputs.stack(), saved.stack(), c_last


def _lean(z, m, recurrent, h0, c0):
    """The step loop for inference: outputs (T, B, U) and the last c, nothing kept."""
    steps, units = tf.shape(z)[0], tf.shape(recurrent)[0]

    def step(t, h, c, outputs):
        _, _, c, _, h = _cell(z[t], h, c, m[t], recurrent, units)
        return t + 1, h, c, outputs.write(t, h)

    _, _, c_last, outputs = tf.while_loop(lambda t, *_: t < steps, step,
                                          (0, h0, c0, tf.TensorArray(z.dtype, size=steps)), maximum_iterations=steps)
    return outputs.stack(), c_last


def _backward(d_outputs, saved, m, recurrent_t, d_c_last):
    """Back through the steps: the gate gradients dz (T, B, 4U) and those of h0 and c0."""
    steps, units = tf.shape(saved)[0], tf.shape(recurrent_t)[1]

    def step(t, dh, dc, dz_all):
        p, q, f = tf.split(saved[t], [4 * units, units, units], axis=-1)
        dh = (d_outputs[t] + dh) * m[t]
        dc = dc * m[t] + dh * q
        dz = tf.concat([dc, dc, dc, dh], -1) * p
        return t - 1, tf.matmul(dz, recurrent_t), dc * f, dz_all.write(t, dz)

    arrays = tf.TensorArray(saved.dtype, size=steps)
    _, dh0, dc0, dz = tf.while_loop(lambda t, *_: t >= 0, step,
                                    (steps - 1, tf.zeros_like(d_c_last), d_c_last, arrays),
                                    maximum_iterations=steps)
    return dz.stack(), dh0, dc0


_forward_jit = tf.function(_forward, jit_compile=True)
_backward_jit = tf.function(_backward, jit_compile=True)
_lean_jit = tf.function(_lean, jit_compile=True)
