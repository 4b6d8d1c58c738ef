import keras
import numpy as np
import tensorflow as tf
from keras import ops



@keras.saving.register_keras_serializable(package="jlan_tf")
class LexicalOutput(keras.layers.Layer):
    """Per-label linear scores on the note's TF-IDF bag of words: a "wide" part beside the network.

    `logit_j = scale * x · K_j`, where `x` is the note's TF-IDF vector as scikit-learn's
    `TfidfTransformer(sublinear_tf=True)` makes it, `(1 + log count_w) * idf_w` scaled to unit
    length, and `K` a learned `(vocab, labels)` kernel, starting at 0 by default so that the
    model starts as the network alone. `scale` is a learning-rate multiplier in disguise: Adam
    moves each weight by about the learning rate a step, so at 1e-3 a few hundred steps take
    `K` to about 0.4, while TF-IDF + LR's largest weight per code has a median of 4.6 on
    CodiEsp-50 (C = 10; `experiments/baseline_lr.py` prints it); `scale` = 10 lets the part
    reach LR's size within a short run. It is TF-IDF + logistic regression inside the model: a
    code seen in a handful of notes gets the lexical match that a linear model on words gives
    it, which the attention network learns slowly from few examples (`model.lexical_output`,
    not in the paper). The idf weights are fixed: set them with
    `set_idf` after the layer is built (all 1 until then); id 0 (padding) always weighs 0.

    Args:
        num_labels: int. Number of labels.
        vocab_size: int. Number of token ids (the ids are `0 .. vocab_size - 1`).
        scale: float. Multiplies the scores (above).
        words_per_label: int. Words kept per label (0: every word, a dense kernel).
        kernel_initializer: initializer of `K` ("zeros": the network alone at the start).
        **kwargs: other keyword arguments for `keras.layers.Layer`.

    Call arguments:
        inputs: int tensor of token ids `(batch, tokens)`, 0 = padding.

    Returns:
        float tensor of logits `(batch, labels)`.

    Example:
    >>> layer = LexicalOutput(num_labels=3, vocab_size=10)
    >>> layer(keras.ops.convert_to_tensor([[1, 2, 2, 0]])).shape
    (1, 3)
    """

    def __init__(self, num_labels, vocab_size, scale=1.0, words_per_label=0, kernel_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_labels = num_labels
        self.vocab_size = vocab_size
        self.scale = scale
        self.words_per_label = words_per_label
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.idf = self.add_weight(name="idf", shape=(self.vocab_size,), initializer="ones", trainable=False)
        if self.words_per_label:
            # Sorted per label (unused slots, id 0, first): token_contributions finds a word by bisection.
            self.word_ids = self.add_weight(name="word_ids", shape=(self.num_labels, self.words_per_label),
                                            initializer="zeros", dtype="int32", trainable=False)
            shape = (self.num_labels, self.words_per_label)
        else:
            shape = (self.vocab_size, self.num_labels)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer=self.kernel_initializer)

    def set_words(self, word_ids, weights):
        """Sets the kept words (labels, K) and their weights (labels, K) (sparse form only);
        each label's words are sorted here, a 0 id is an unused slot."""
        word_ids, weights = np.asarray(word_ids, np.int32), np.asarray(weights, np.float32)
        order = np.argsort(word_ids, axis=1, kind="stable")
        self.word_ids.assign(np.take_along_axis(word_ids, order, 1))
        self.kernel.assign(np.where(np.take_along_axis(word_ids, order, 1) > 0,
                                    np.take_along_axis(weights, order, 1), 0.0))

    def set_idf(self, idf):
        """Sets the (vocab_size,) idf weights (id 0, padding, gets 0)."""
        idf = ops.convert_to_tensor(idf, self.idf.dtype)
        self.idf.assign(ops.concatenate([ops.zeros((1,), idf.dtype), idf[1:]]))

    def _counts(self, tokens):
        """(batch, vocab) how often each token id occurs in each note."""
        return ops.cast(ops.bincount(ops.cast(tokens, "int32"), minlength=self.vocab_size), self.compute_dtype)

    def tfidf(self, tokens, counts=None):
        """(batch, vocab) unit-length sublinear TF-IDF vectors of the token ids (``counts``: their
        ``_counts``, when the caller has them)."""
        counts = self._counts(tokens) if counts is None else counts
        x = ops.where(counts > 0, 1.0 + ops.log(ops.maximum(counts, 1.0)), 0.0) * self.idf
        return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)), 1e-12)

    def token_contributions(self, tokens):
        """(batch, labels, tokens): each token's share of the scores, its word's term split evenly
        over the word's occurrences in the note; they sum to the scores (padding gets 0)."""
        tokens = ops.cast(tokens, "int32")
        counts = self._counts(tokens)
        share = ops.take_along_axis(self.tfidf(tokens, counts) / ops.maximum(counts, 1.0), tokens, axis=1)  # (B, T)
        if not self.words_per_label:
            kernel = ops.take(self.kernel, tokens, axis=0)                                           # (B, T, L)
            return self.scale * ops.transpose(share[..., None] * kernel, (0, 2, 1))
        return self.scale * share[:, None, :] * ops.map(self._token_weights, tokens)                 # (B, L, T)

    def _token_weights(self, tokens):
        """(labels, T): each token's weight for each label in the sparse form (0 where not kept)."""
        values = ops.broadcast_to(tokens[None, :], (self.num_labels, ops.shape(tokens)[0]))
        slot = ops.minimum(tf.searchsorted(self.word_ids, values, side="left"), self.words_per_label - 1)  # bisection per row
        found = ops.take_along_axis(self.word_ids, slot, axis=1) == values
        return ops.where(found & (values > 0), ops.take_along_axis(self.kernel, slot, axis=1), 0.0)

    def call(self, inputs):
        x = self.tfidf(inputs)                                                                      # (B, V)
        if not self.words_per_label:
            return self.scale * ops.matmul(x, self.kernel)
        return self.scale * ops.sum(ops.take(x, self.word_ids, axis=1) * self.kernel, axis=-1)      # (B, L)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_labels)

    def get_config(self):
        config = super().get_config()
        config.update(num_labels=self.num_labels, vocab_size=self.vocab_size, scale=self.scale,
                      words_per_label=self.words_per_label,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
