"""Adam with a fused update: one pass over each weight per step."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="jlan_tf")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with a fused per-weight update, in either of its two readings.

    The same arguments, slots and checkpoints as Keras' Adam, and the same formula
    (`alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`, `m += (g - m)(1 - b1)`, `v += (s - v)(1 - b2)`,
    `w -= alpha m / (sqrt(v) + eps)`), but in one multithreaded pass, where Keras'
    `update_step` runs a dozen element-wise operations, each reading and writing the whole
    weight. On a CPU that matters for the word vectors (vocabulary x 100, most of the model's
    weights; README, "Model speed"). Gradient clipping, weight decay and the moving average of
    the weights (`use_ema`) stay Keras' own, around this update.

    The two readings differ on sparse gradients only (the word vectors; dense weights get
    identical updates): a word that occurs k times in a batch has a gradient of k pieces
    `g_i`, and `g` is their sum in both. The second-moment input `s` is `g^2` in Adam as
    written (TensorFlow's `ResourceApplyAdam`, PyTorch); Keras 3's Adam squares the pieces
    before summing them (`ops.square` of a `tf.IndexedSlices`), `s = sum(g_i^2)`, which damps
    the steps of frequent words whose pieces disagree.

    Args:
        square_pieces: bool. True: Keras 3's reading (its results, to float rounding, one
            compiled pass); False: Adam as written (TensorFlow's fused kernel).
        **kwargs: those of `keras.optimizers.Adam`.

    With `amsgrad`, and under a distribution strategy (MirroredStrategy,
    MultiWorkerMirroredStrategy: the fused update would need each replica's copy of the
    slots), Keras' element-wise update runs instead, in the same reading: unfused.
    """

    def __init__(self, *args, square_pieces=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.square_pieces = bool(square_pieces)

    def get_config(self):
        return {**super().get_config(), "square_pieces": self.square_pieces}

    def update_step(self, gradient, variable, learning_rate):
        sparse = isinstance(gradient, tf.IndexedSlices)
        if self.amsgrad or tf.distribute.has_strategy():
            # Keras' update reads an IndexedSlices as Keras 3 does (pieces squared, then summed).
            keep_pieces = sparse and self.square_pieces
            return super().update_step(gradient if keep_pieces else tf.convert_to_tensor(gradient), variable,
                                       learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        step = tf.cast(self.iterations + 1, dtype)
        lr, beta_1, beta_2 = (tf.cast(a, dtype) for a in (learning_rate, self.beta_1, self.beta_2))
        epsilon = tf.cast(self.epsilon, dtype)
        g = tf.cast(tf.convert_to_tensor(gradient), dtype)  # a repeated word's pieces summed
        if sparse and self.square_pieces:
            squares = tf.convert_to_tensor(tf.IndexedSlices(tf.square(gradient.values), gradient.indices,
                                                            gradient.dense_shape))
            values = [tf.convert_to_tensor(w) for w in (variable, m, v)]
            for target, value in zip((variable, m, v), _adam_with_squares(
                    *values, g, tf.cast(squares, dtype), lr, beta_1, beta_2, epsilon, step)):
                target.assign(value)
            return
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step), lr=lr, beta1=beta_1, beta2=beta_2, epsilon=epsilon, grad=g)


@tf.function(jit_compile=True)
def _adam_with_squares(variable, m, v, g, squares, lr, beta_1, beta_2, epsilon, step):
    """Adam's update with `squares` as the second moment's input, compiled into one pass: the
    new (variable, m, v). Values in, values out (a compiled function that held variables
    would outlive the model that owns them)."""
    alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
    m = m + (g - m) * (1 - beta_1)
    v = v + (squares - v) * (1 - beta_2)
    return variable - m * alpha / (tf.sqrt(v) + epsilon), m, v
