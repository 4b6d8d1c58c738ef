"""Adam with TensorFlow's fused update kernel: one pass over each weight per step."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="jlan_tf")
class FusedAdam(keras.optimizers.Adam):
    """Adam as written, with TensorFlow's fused `ResourceApplyAdam` as the per-weight update.

    Subclasses `keras.optimizers.Adam`: the same arguments, slots and checkpoints, and the same
    formula (`alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`, `m += (g - m)(1 - b1)`,
    `v += (g^2 - v)(1 - b2)`, `w -= alpha m / (sqrt(v) + eps)`), but in one multithreaded pass,
    where Keras' `update_step` runs a dozen element-wise operations, each reading and writing
    the whole weight. On a CPU that matters for the word vectors (vocabulary x 100, most of
    the model's weights; README, "Model speed"). Gradient clipping, weight decay and the moving
    average of the weights (`use_ema`) stay Keras' own, around this update.

    One difference from Keras 3's Adam, on sparse gradients (the word vectors): a word that
    occurs k times in a batch has a gradient of k pieces. Here, as in Adam's definition,
    TensorFlow's kernel and PyTorch, `g` is their sum and `v` tracks `g^2`; Keras squares the
    pieces before summing them (`ops.square` of a `tf.IndexedSlices`), so its `v` tracks
    `sum(g_i^2)` for repeated words. Dense weights get identical updates.

    With `amsgrad`, and under a distribution strategy (MirroredStrategy,
    MultiWorkerMirroredStrategy: the fused kernel would need each replica's copy of the slots),
    Keras' element-wise update runs instead, on the summed gradient: the same Adam, unfused.
    """

    def update_step(self, gradient, variable, learning_rate):
        gradient = tf.convert_to_tensor(gradient)  # a repeated word's pieces summed: Adam's g
        if self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step), beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype), beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
