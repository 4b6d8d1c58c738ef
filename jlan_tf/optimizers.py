"""The two readings of Adam (train.optimizer); Adam as written in TensorFlow's fused kernel."""

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

    Adam as written runs TensorFlow's fused `ResourceApplyAdam`: one multithreaded pass per
    weight, where Keras' `update_step` runs a dozen element-wise operations, each over the
    whole weight; on a CPU that matters for the word vectors (vocabulary x 100; README,
    "Model speed"). Keras 3's reading runs Keras' own update on the sparse gradients (a
    compiled version was measured no faster, README); its dense weights take the fused pass.

    Args:
        square_pieces: bool. True: Keras 3's reading; False: Adam as written.
        **kwargs: those of `keras.optimizers.Adam`.

    With `amsgrad`, and under a distribution strategy (MirroredStrategy,
    MultiWorkerMirroredStrategy: the fused kernel would need each replica's copy of the
    slots), Keras' element-wise update runs instead, in the same reading: unfused.
    """

    def __init__(self, *args, square_pieces=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.square_pieces = bool(square_pieces)

    def get_config(self):
        return {**super().get_config(), "square_pieces": self.square_pieces}

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices) and self.square_pieces:
            return super().update_step(gradient, variable, learning_rate)  # Keras' own reading of the pieces
        gradient = tf.convert_to_tensor(gradient)  # a repeated word's pieces summed: Adam's g
        if self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
