"""The two readings of Adam (study.optimizer); Adam as written in TensorFlow's fused kernel."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="jlan_tf")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` in either of its two readings, Adam as written in one fused pass.

    The same arguments, slots and checkpoints as Keras' Adam, and the same formula
    (`alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`, `m += (g - m)(1 - b1)`, `v += (s - v)(1 - b2)`,
    `w -= alpha m / (sqrt(v) + eps)`). Gradient clipping, weight decay and the moving average
    of the weights (`use_ema`) stay Keras' own, around the update.

    The two readings differ on sparse gradients only (the word vectors; dense weights get
    identical updates): a word that occurs k times in a batch has a gradient of k pieces
    `g_i`, and `g` is their sum in both. The second-moment input `s` is `g^2` in Adam as
    written (TensorFlow's `ResourceApplyAdam`, PyTorch); Keras 3's Adam squares the pieces
    before summing them (`ops.square` of a `tf.IndexedSlices`), `s = sum(g_i^2)`, which damps
    the steps of frequent words whose pieces disagree.

    Both run TensorFlow's fused `ResourceApplyAdam`: one multithreaded pass per weight, where
    Keras' `update_step` runs a dozen element-wise operations, each over the whole weight; on
    a CPU that matters for the word vectors (vocabulary x 100; README, "Model speed"). The
    kernel computes `v' = b2 v + (1 - b2) g^2`; for Keras 3's reading the rows a batch touched
    first get `v += (1 - b2) / b2 (s - g^2)` (zero elsewhere; added densely), so that the
    kernel's `v'` is `b2 v + (1 - b2) s`. Exact in real arithmetic; in float32 the shift
    cancels against the kernel's `g^2`, an error of about k float32 roundings of `v` for a
    word seen k times in the batch (`g^2 <= k s`): relative 1e-5 at k = 100.

    Args:
        square_pieces: bool. True: Keras 3's reading; False: Adam as written.
        decay_exempt: list of str. Weights whose names contain one of these get no weight
            decay (Keras' `exclude_from_weight_decay(var_names=...)`, which a saved optimizer
            does not keep: as an argument it is in the config, so a resumed run exempts the
            same weights).
        **kwargs: those of `keras.optimizers.Adam`.

    With `amsgrad`, and under a distribution strategy (MirroredStrategy,
    MultiWorkerMirroredStrategy: the fused kernel would need each replica's copy of the
    slots), Keras' element-wise update runs instead, in the same reading: unfused.
    """

    def __init__(self, *args, square_pieces=False, decay_exempt=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.square_pieces = bool(square_pieces)
        self.decay_exempt = list(decay_exempt or [])
        if self.decay_exempt:
            self.exclude_from_weight_decay(var_names=self.decay_exempt)

    def get_config(self):
        return {**super().get_config(), "square_pieces": self.square_pieces, "decay_exempt": self.decay_exempt}

    def update_step(self, gradient, variable, learning_rate):
        sparse = isinstance(gradient, tf.IndexedSlices) and self.square_pieces
        if self.amsgrad or tf.distribute.has_strategy():
            gradient = gradient if sparse else tf.convert_to_tensor(gradient)  # Keras squares the pieces, or g
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        if sparse:  # Keras 3's reading: shift v on the touched rows so that the kernel's g^2 becomes s
            rows, position = tf.unique(gradient.indices)
            values = tf.cast(gradient.values, dtype)
            g = tf.math.unsorted_segment_sum(values, position, tf.size(rows))
            s = tf.math.unsorted_segment_sum(tf.square(values), position, tf.size(rows))
            shift = (s - tf.square(g)) * ((1 - beta_2) / beta_2)
            # A dense add: a scatter would put v in TensorFlow's copy-on-read mode, after
            # which the kernel copies the whole of v at every step.
            tf.raw_ops.AssignAddVariableOp(resource=self._velocities[index].handle,
                                           value=tf.scatter_nd(rows[:, None], shift, tf.shape(variable)))
            gradient = tf.IndexedSlices(g, rows, gradient.dense_shape)
        gradient = tf.convert_to_tensor(gradient)  # a repeated word's pieces summed: Adam's g
        step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
