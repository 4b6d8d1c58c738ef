"""``train.strategy``: one device, every GPU of a machine, or several machines.

``one`` and ``mirrored`` train with ``model.fit``. ``multi_worker`` uses
``tf.distribute.MultiWorkerMirroredStrategy`` with the cluster from ``TF_CONFIG``; Keras 3's
``fit`` does not run under it (its PerReplica batches, keras-team/keras#20585), so
``EpochLoop`` runs the epoch itself: the global batches sharded over the workers
(``experimental_distribute_dataset``), ``strategy.run(model.train_step)`` per step (the step
averages the loss over the global batch, so the workers' gradients add up to the one-machine
gradient), and the same callbacks (dev evaluation, TensorBoard) at the epoch's end. Only the
chief (worker 0) writes the run folder; every worker evaluates dev itself on the same
weights, so all take the same early-stopping decisions.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

STRATEGIES = ("auto", "one", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``one`` (the default strategy: one device), ``mirrored`` (``MirroredStrategy`` over every
    visible GPU; the batch is split between them and the gradients all-reduced), ``auto``
    (mirrored when more than one GPU is visible, else one), ``multi_worker`` (several
    processes or machines, from ``TF_CONFIG``)."""
    if name not in STRATEGIES:
        raise ValueError(f"train.strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("train.strategy=multi_worker reads the cluster from the TF_CONFIG environment variable, "
                             "which is not set (README: \"Several machines\")")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "one"
    return tf.distribute.MirroredStrategy() if name == "mirrored" else tf.distribute.get_strategy()


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """False only on the workers of a multi-worker cluster other than its chief: the "chief"
    task, else worker 0. Without a strategy, read from ``TF_CONFIG`` (True when unset)."""
    if strategy is not None and not is_multi_worker(strategy):
        return True
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task, cluster = config.get("task", {}), config.get("cluster", {})
    if not task:
        return True
    return task.get("type") == "chief" or ("chief" not in cluster and task.get("type") == "worker"
                                           and int(task.get("index", 0)) == 0)


def writes_run(strategy_name: str) -> bool:
    """Whether this process writes the run folder under ``train.strategy`` = ``strategy_name``
    (decided before the strategy exists: every process but a multi-worker cluster's others)."""
    return strategy_name != "multi_worker" or is_chief()


class EpochLoop:
    """``model.fit`` for one epoch at a time under a multi-worker strategy (see the module)."""

    def __init__(self, model: keras.Model, strategy: tf.distribute.Strategy, callbacks: list):
        self.model, self.strategy = model, strategy
        self.step = tf.function(lambda batch: strategy.run(model.train_step, args=(batch,)))
        self.callbacks = keras.callbacks.CallbackList(callbacks, model=model)
        self.callbacks.on_train_begin()

    def fit_epoch(self, dataset: tf.data.Dataset, epoch: int) -> dict[str, float]:
        """Trains one epoch on ``dataset`` (global batches); returns the epoch's logs, as ``fit``'s history."""
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        self.model.reset_metrics()
        self.callbacks.on_epoch_begin(epoch)
        logs = {}
        for i, batch in enumerate(self.strategy.experimental_distribute_dataset(dataset.with_options(options))):
            logs = self.step(batch)
            self.callbacks.on_train_batch_end(i)  # no logs: no host read per step
        # The replicas' running means, averaged: loss_i * replicas averages to the global batch's loss.
        logs = {k: float(self.strategy.reduce("MEAN", v, axis=None)) for k, v in logs.items()}
        self.callbacks.on_epoch_end(epoch, logs)  # adds the dev metrics (val_*), writes TensorBoard
        return logs

    def close(self) -> None:
        self.callbacks.on_train_end()
