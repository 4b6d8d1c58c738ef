"""Where one JLAN training step spends its time, on random token ids (CPU or GPU).

    python experiments/profile_step.py [--tokens 512] [--batch 16] [--labels 50]

Prints the time of one training step (median of --repeats runs of --steps steps) for the
full model and for variants that remove one part, so each difference is that part's cost;
and the BiLSTM alone (forward + backward) with Keras' LSTM and with FastLSTM, same weights;
and one Adam update of the word vectors (vocabulary x 100) from one batch's sparse gradient,
with Keras' Adam and both readings of FusedAdam (study.optimizer). Last, how close the BiLSTM
is to what this machine can do: the floating-point operations of its matrix products per
training step, the rate FastLSTM achieves, and the rate of the same step-sized product alone
in a compiled loop of the same length (the recurrence: no loop can run faster than that), and
of one large product.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from jlan_tf.config import Config  # noqa: E402
from jlan_tf.layers import FastLSTM  # noqa: E402
from jlan_tf.model import build_jlan  # noqa: E402
from jlan_tf.optimizers import FusedAdam  # noqa: E402
from jlan_tf.training import make_optimizer  # noqa: E402
from jlan_tf.objective import Objective  # noqa: E402
from jlan_tf.studies.bench import random_lexical_inputs  # noqa: E402

VARIANTS = {  # name -> model overrides; the difference to "full" is the cost of what is removed
    "full model": [],
    "no residual block": ["model.residual_blocks=0"],
    "no self-attention, no fusion (label_only)": ["model.fusion=label_only"],
    "no output hidden layer": ["model.output_hidden_dim=0"],
    "BiLSTM of 8 units (everything but the LSTM)": ["model.lstm_units=8"],
}


def timed(step, steps: int, repeats: int) -> float:
    step(), step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            result = step()
        np.asarray(result)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def bilstm_seconds(rnn, x, mask, steps, repeats) -> float:
    layer = keras.layers.Bidirectional(rnn)
    layer(x, mask=mask)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=mask, training=True)
            loss = tf.reduce_sum(y * y)
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, [x] + layer.trainable_variables)])

    return timed(step, steps, repeats)


def adam_seconds(optimizer, ids, vocab, steps, repeats) -> float:
    """One update of a (vocab, 100) table from the gradient of looking up ``ids`` (B, T)."""
    table = keras.Variable(np.zeros((vocab, 100), np.float32), name="embeddings")
    optimizer.build([table])
    ids = tf.reshape(ids, [-1])
    pieces = tf.random.stateless_normal([tf.size(ids), 100], seed=[0, 0])

    @tf.function
    def step():
        optimizer.apply([tf.IndexedSlices(pieces, ids, tf.constant([vocab, 100]))], [table])
        return table[0, 0]

    return timed(step, steps, repeats)


def bilstm_flops(batch: int, tokens: int, inputs: int, units: int) -> float:
    """Floating-point operations of a BiLSTM's matrix products in one training step: per
    direction, the input projection and the recurrent product forward, and for each of them the
    gradient of its input and of its weights (each as many as the forward product)."""
    per_direction = 3 * 2 * tokens * batch * 4 * units * (inputs + units)
    return 2 * per_direction


def chained_product_seconds(batch: int, units: int, tokens: int, repeats: int) -> float:
    """A compiled loop of ``tokens`` dependent (batch, units) x (units, 4 units) products: the
    recurrent product of one direction's forward pass with nothing else around it."""
    w = tf.random.normal([units, 4 * units], stddev=0.05)
    h0 = tf.random.normal([batch, units])

    @tf.function(jit_compile=True)
    def loop(h):
        return tf.while_loop(lambda t, h: t < tokens, lambda t, h: (t + 1, tf.tanh(tf.matmul(h, w)[:, :units])),
                             (0, h))[1]

    return timed(lambda: loop(h0), 3, repeats)


def large_product_gflops(n: int, repeats: int) -> float:
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    product = tf.function(lambda: tf.matmul(a, b))
    return 2 * n ** 3 / timed(product, 3, repeats) / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(0, 0.1, (args.vocab, 100)).astype(np.float32)
    descriptions = [rng.integers(2, args.vocab, 6) for _ in range(args.labels)]
    x = {"tokens": tf.constant(rng.integers(2, args.vocab, (args.batch, args.tokens)), tf.int32)}
    y = {"labels": tf.constant((rng.random((args.batch, args.labels)) < 0.1).astype(np.float32))}
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU x{os.cpu_count()}"
    print(f"one training step, {args.tokens} tokens, batch {args.batch}, {args.labels} labels, {device}:")
    for name, overrides in VARIANTS.items():
        keras.utils.set_random_seed(0)
        config = Config().apply_overrides(overrides)
        model = build_jlan(config, embeddings, args.labels, descriptions,
                           **random_lexical_inputs(config, args.vocab, args.labels, rng))
        model.set_objective(Objective(d_max=0.15, warmup_steps=10))
        model.compile(optimizer=make_optimizer(Config()))  # the optimizer training uses
        seconds = timed(lambda: model.train_on_batch(x, y, return_dict=True)["loss"], args.steps, args.repeats)
        print(f"  {name:<45} {1000 * seconds:7.0f} ms")
    h = tf.random.normal([args.batch, args.tokens, 100])
    mask = tf.ones([args.batch, args.tokens], bool)
    print("BiLSTM alone (256 units per direction, forward + backward):")
    for name, rnn in (("keras.layers.LSTM", keras.layers.LSTM(256, return_sequences=True)),
                      ("FastLSTM", FastLSTM(256, return_sequences=True))):
        fast = bilstm_seconds(rnn, h, mask, args.steps, args.repeats)
        print(f"  {name:<45} {1000 * fast:7.0f} ms")
    flops = bilstm_flops(args.batch, args.tokens, 100, 256)
    product = chained_product_seconds(args.batch, 256, args.tokens, args.repeats)
    print(f"BiLSTM matrix products per training step: {flops / 1e9:.1f} GFLOP; FastLSTM runs them at "
          f"{flops / fast / 1e9:.1f} GFLOP/s (its other work included)")
    print(f"  the recurrent product alone, {args.tokens} dependent ({args.batch}x256)x(256x1024) products: "
          f"{2 * args.tokens * args.batch * 256 * 1024 / product / 1e9:.1f} GFLOP/s; "
          f"one 2048x2048 product: {large_product_gflops(2048, args.repeats):.1f} GFLOP/s")
    print(f"Adam on the word vectors alone ({args.vocab} x 100, one batch's sparse gradient):")
    for name, optimizer in (("keras.optimizers.Adam", keras.optimizers.Adam()),
                            ("FusedAdam, Keras 3's reading (keras_adam)", FusedAdam(square_pieces=True)),
                            ("FusedAdam, as written (adam)", FusedAdam())):
        seconds = adam_seconds(optimizer, x["tokens"], args.vocab, 10 * args.steps, args.repeats)
        print(f"  {name:<45} {1000 * seconds:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
