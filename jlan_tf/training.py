"""Training a run: epochs of ``model.fit``, dev evaluation, early stopping, checkpoints,
TensorBoard curves, and resume; the run folder's layout is ``jlan_tf.run_folder``.

Resume is exact: each epoch's data order and dropout masks depend only on (seed, epoch),
and the optimizer (with the step counter that drives the drop-rate schedule) is restored
from ``last.keras``, so a run stopped after any epoch and resumed ends as if never stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path

import keras
import numpy as np

from jlan_tf.lexical_fit import lexical_inputs
from jlan_tf import metrics as metric_fns
from jlan_tf.codiesp_task import add_official_map
from jlan_tf.baselines import code_parents
from jlan_tf.candidates import choose_count, first_stage_scores, suggested_candidates
from jlan_tf.config import Config
from jlan_tf.data.pipeline import eval_order, make_dataset
from jlan_tf.data.prepared import PreparedDataset
from jlan_tf.denoising import frequency_bands
from jlan_tf.distributed import EpochLoop, is_chief, is_multi_worker, make_strategy
from jlan_tf.memory import check_step_memory
from jlan_tf.model import build_jlan, set_precision
from jlan_tf.objective import Objective
from jlan_tf.optimizers import FusedAdam
from jlan_tf.run_folder import RunFolder
from jlan_tf.tokenization import UNK_ID, tokenize

log = logging.getLogger(__name__)

class NonFiniteLoss(RuntimeError):
    pass


class _DevEvaluation(keras.callbacks.Callback):
    """Puts dev metrics (as ``val_*``) and the learning rate into the epoch logs, before
    TensorBoard writes them. A non-finite training loss is caught on the epoch's mean loss,
    not per batch: reading the loss on the host after every batch would stall a GPU (and a
    NaN in any batch makes the epoch's mean NaN)."""

    def __init__(self, data: PreparedDataset, batch_size: int):
        super().__init__()
        self.data, self.batch_size = data, batch_size
        self.latest: dict | None = None  # the last epoch's dev metrics
        self.bad_step: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        if logs and not math.isfinite(float(logs["loss"])):
            self.bad_step = int(self.model.optimizer.iterations.numpy())
            return
        with averaged_weights(self.model):
            scores, y_true = predict_split(self.model, self.data, "dev", self.batch_size)
        # With dev's own tuned threshold, all_metrics adds micro_f1_tuned (select_on may use it).
        dev = self.latest = metric_fns.all_metrics(y_true, scores, metric_fns.tune_threshold(y_true, scores))
        logs.update({f"val_{k}": v for k, v in dev.items() if k in metric_fns.REPORTED})
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class _KeepTrainingWeights(keras.callbacks.Callback):
    """Keras's ``fit`` ends by overwriting the weights with the optimizer's moving average
    (``finalize_variable_values``) when it keeps one; as ``fit`` runs one epoch at a time here,
    that would restart every epoch from the average. This puts the training weights back."""

    def __init__(self):
        super().__init__()
        self.raw: list[np.ndarray] = []

    def on_epoch_end(self, epoch, logs=None):
        if _averaging_optimizer(self.model) is not None:
            self.raw = _copy_weights(self.model)

    def on_train_end(self, logs=None):
        for variable, value in zip(self.model.trainable_variables, self.raw):
            variable.assign(value)


def predict_split(model, data: PreparedDataset, split: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, y_true) for a split, both in document order (under a multi-worker strategy each
    worker predicts the whole split itself: ``model.predict`` does not run there)."""
    part = data.splits[split]
    dataset = make_dataset(data, split, batch_size)
    if is_multi_worker(model.distribute_strategy):
        ordered = np.concatenate([keras.ops.convert_to_numpy(model.predict_step(x)) for x, _ in dataset])
    else:
        ordered = model.predict(dataset, verbose=0)
    scores = np.empty_like(ordered)
    scores[eval_order(part)] = ordered
    return scores, part.multi_hot(data.num_labels)


def _reseed_dropout(model: keras.Model, seed: int, epoch: int) -> None:
    # Keras does not save SeedGenerator states; fixing them per epoch makes resume exact.
    for i, layer in enumerate(model._flatten_layers()):
        for generator in getattr(layer, "_seed_generators", []):
            generator.state.assign(np.array([seed * 100_003 + epoch * 1_009 + i, 0], generator.state.dtype))


def steps_per_epoch(data: PreparedDataset, batch_size: int) -> int:
    return max(1, math.ceil(len(data.splits["train"]) / batch_size))


def new_model(data: PreparedDataset, config: Config):
    descriptions = [data.vocab.encode(tokenize(d)) for d in data.descriptions]
    unknown = sum(1 for ids in descriptions if not (ids > UNK_ID).any())
    uses_descriptions = config.model.arch == "jlan" and config.model.label_queries == "description"
    if uses_descriptions and unknown > data.num_labels // 4:
        log.warning("%d of %d code descriptions have no word in the vocabulary (descriptions in another language "
                    "than the notes?): their label queries start from nothing; consider "
                    "--set model.label_queries=trainable", unknown, data.num_labels)
    if config.train.evidence_weight > 0 and config.model.arch != "jlan":
        raise ValueError(f"train.evidence_weight supervises JLAN's attention; model.arch={config.model.arch} has none")
    if config.train.evidence_weight > 0 and 0 < config.model.attention_chunk < data.num_labels:
        raise ValueError("train.evidence_weight needs the attention maps in training; model.attention_chunk computes "
                         "none there: set model.attention_chunk=0")
    hierarchy = config.model.arch == "jointlaat" or config.study.output_parent_scorer
    parents = code_parents(data.codes)[1] if hierarchy else None
    model = build_jlan(config, data.embeddings, data.num_labels, descriptions,
                       label_priors=data.train_counts / max(1, len(data.splits["train"])), label_parents=parents,
                       **lexical_inputs(data, config))
    model.set_objective(objective_for(data, config))
    model.compile(optimizer=make_optimizer(config), jit_compile=config.train.jit_compile,
                  steps_per_execution=config.train.steps_per_execution)
    return model


def objective_for(data: PreparedDataset, config: Config) -> Objective:
    """The training loss of ``config`` on ``data``: the truncation loss's schedule in steps, and
    the per-code settings that depend on the training split."""
    t, study = config.train, config.study
    steps = steps_per_epoch(data, config.data.batch_size)
    return Objective(
        d_max=t.d_max, warmup_steps=max(1, round(t.warmup_epochs * steps)),
        stop_step=round(study.stop_epoch * steps) if study.stop_epoch > 0 else None,
        burn_in_steps=round(t.burn_in_epochs * steps), drop_rank=study.drop_rank, drop_rounding=study.drop_rounding,
        d_max_negatives=t.d_max_negatives, label_bands=frequency_bands(data.train_counts),
        label_weights=rare_code_weights(data.train_counts, study.rare_code_notes),
        label_parents=code_parents(data.codes)[1] if config.model.arch == "jointlaat" else None,
        evidence_weight=t.evidence_weight)


def rare_code_weights(train_counts, notes: int) -> list[float] | None:
    """``study.rare_code_notes`` = N > 0: a code seen in n < N training notes weighs n / N in the
    loss (unseen codes 0: their scores stay at the output bias), every other code 1."""
    if notes <= 0:
        return None
    return np.minimum(np.asarray(train_counts, np.float64) / notes, 1.0).tolist()


# study.optimizer: the two readings of Adam, which differ on the word vectors (FusedAdam): "adam"
# as written, "keras_adam" as Keras 3 computes it (chosen on dev; every table before 2026-11-27).
OPTIMIZERS = {"adam": {"square_pieces": False}, "keras_adam": {"square_pieces": True}}


def make_optimizer(config: Config) -> keras.optimizers.Optimizer:
    """Adam (``study.optimizer``, see ``OPTIMIZERS``) with ``train.learning_rate``, optional
    global-norm clipping (``train.clip_norm``), decoupled weight decay (``train.weight_decay``:
    each step shrinks a weight by ``learning_rate * weight_decay`` of itself, AdamW's form) on
    every weight but the biases and the word vectors, and an exponential moving average of the
    weights (``train.ema_momentum`` = m: Keras's own, after each step ``avg = m * avg + (1 - m) * w``;
    see ``averaged_weights``)."""
    t, reading = config.train, config.study.optimizer
    if not 0.0 <= t.ema_momentum < 1.0:
        raise ValueError(f"train.ema_momentum must be in [0, 1), got {t.ema_momentum}")
    if reading not in OPTIMIZERS:
        raise ValueError(f"study.optimizer must be one of {sorted(OPTIMIZERS)}, got {reading!r}")
    return FusedAdam(t.learning_rate, global_clipnorm=t.clip_norm if t.clip_norm > 0 else None,
                     weight_decay=t.weight_decay if t.weight_decay > 0 else None,
                     decay_exempt=["bias", "embeddings"] if t.weight_decay > 0 else None,
                     use_ema=t.ema_momentum > 0, ema_momentum=t.ema_momentum, **OPTIMIZERS[reading])


def _averaging_optimizer(model: keras.Model):
    """The model's optimizer when it keeps a moving average of the weights (and has taken a step), else None."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # mixed precision wraps it
    return optimizer if optimizer is not None and optimizer.use_ema and optimizer.built else None


def _copy_weights(model: keras.Model) -> list[np.ndarray]:
    return [np.array(v.numpy(), copy=True) for v in model.trainable_variables]  # numpy() may share the buffer


@contextlib.contextmanager
def averaged_weights(model: keras.Model):
    """Inside the block the model holds its optimizer's moving average of the weights (when the
    optimizer keeps one, ``train.ema_momentum``); afterwards its training weights again. Dev
    evaluation, the best epoch's saved weights and therefore the exported model are the average;
    training itself (and ``last.keras``, for an exact resume) goes on from the raw weights."""
    optimizer = _averaging_optimizer(model)
    if optimizer is None:
        yield model
        return
    variables = model.trainable_variables  # the optimizer was built on them, in this order
    raw = _copy_weights(model)
    optimizer.finalize_variable_values(variables)  # Keras's own: assigns the averages
    try:
        yield model
    finally:
        for variable, value in zip(variables, raw):
            variable.assign(value)


SELECT_ON = {"micro_f1": ("micro_f1", "map"), "map": ("map", "micro_f1"),
             "micro_f1_tuned": ("micro_f1_tuned", "map")}


def selection_key(dev: dict, select_on: str) -> list[float]:
    """What early stopping maximises: the chosen dev metric, ties broken by the second one
    (micro-F1 sits at 0 while no score reaches 0.5 yet; MAP breaks those ties)."""
    if select_on not in SELECT_ON:
        raise ValueError(f"train.select_on must be one of {sorted(SELECT_ON)}, got {select_on!r}")
    return [dev[k] for k in SELECT_ON[select_on]]


def preflight(data: PreparedDataset, config: Config, precision: str | None = None) -> None:
    """Before any fit or step (``train.memory_check``): ``memory.MemoryBudgetError`` when a
    training step will not fit, instead of an out-of-memory kill later."""
    if config.train.memory_check:
        precision = precision or set_precision(config.model.precision)
        check_step_memory(config, len(data.vocab), data.num_labels, data.embeddings.shape[1], precision)


def train(data: PreparedDataset, config: Config, run_dir: Path, verbose: int = 1) -> dict:
    """Trains (or resumes, when the run folder has a ``state.json``); returns metrics.json's content."""
    precision = set_precision(config.model.precision)
    preflight(data, config, precision)
    keras.utils.set_random_seed(config.train.seed)
    strategy = make_strategy(config.train.strategy)
    chief = is_chief(strategy)
    run = RunFolder(run_dir).create() if chief else RunFolder(run_dir)
    with strategy.scope():
        if run.state.exists():
            state = run.read("state")
            model = keras.models.load_model(run.last_checkpoint)
            model.set_objective(objective_for(data, config))
            log.info("resuming %s after epoch %d", run.path, state["epoch"])
        else:
            if chief:
                config.save(run.config)
            state = {"epoch": 0, "best_key": [-1.0, -1.0], "best_epoch": 0, "bad_epochs": 0, "epochs": []}
            model = new_model(data, config)
    log.info("precision %s; %d replica(s); %d training documents, %d labels", precision,
             strategy.num_replicas_in_sync, len(data.splits["train"]), data.num_labels)

    evaluation = _DevEvaluation(data, config.data.eval_batch_size)
    callbacks = [evaluation, _KeepTrainingWeights()] + ([keras.callbacks.TensorBoard(str(run.logs), update_freq=50)] if chief else [])
    loop = EpochLoop(model, strategy, callbacks) if is_multi_worker(strategy) else None  # fit does not run there
    for epoch in range(state["epoch"], config.train.epochs):
        if state["bad_epochs"] >= config.train.patience and epoch >= config.train.min_epochs:
            break
        _reseed_dropout(model, config.train.seed, epoch)
        train_ds = make_dataset(data, "train", config.data.batch_size, training=True, epoch=epoch,
                                seed=config.train.seed, evidence=config.train.evidence_weight > 0)
        start = time.perf_counter()
        if loop:
            train_logs = loop.fit_epoch(train_ds, epoch)
        else:
            history = model.fit(train_ds, initial_epoch=epoch, epochs=epoch + 1, verbose=verbose, shuffle=False,
                                callbacks=callbacks)
            train_logs = {k: float(v[-1]) for k, v in history.history.items() if not k.startswith("val_")}
        if evaluation.bad_step is not None:
            raise NonFiniteLoss(f"the training loss became NaN or infinite in epoch {epoch + 1} (by step "
                                f"{evaluation.bad_step}); try a lower train.learning_rate or set train.clip_norm")
        dev = evaluation.latest
        state["epochs"].append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 1),
                                "train": train_logs, "dev": dev})
        key = selection_key(dev, config.train.select_on)
        if key > state["best_key"]:
            state.update(best_key=key, best_epoch=epoch + 1, bad_epochs=0)
            if chief:
                with averaged_weights(model):
                    model.save_weights(run.best_weights)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        if chief:  # only the chief writes the run folder (all workers hold the same weights)
            run.save_checkpoint(model)  # first the checkpoint, then the state that points past it
            run.write("state", state)
        log.info("epoch %d: dev %s %.4f (best %.4f at epoch %d)", epoch + 1, config.train.select_on, key[0],
                 state["best_key"][0], state["best_epoch"])
    if loop:
        loop.close()
    if not chief:
        return {"best_epoch": state["best_epoch"], "epochs": state["epochs"]}

    if run.best_weights.exists():
        model.load_weights(run.best_weights)  # early stopping keeps the best epoch's weights
    result, predictions = evaluate(model, data, config, state)
    for split, (scores, y_true) in predictions.items():
        run.write_predictions(split, scores, y_true, data.splits[split].ids)
    run.write_export_assets(model, data.path, data.codes, data.meta["tokenization"])
    run.write("metrics", result)
    return result


def evaluate(model, data: PreparedDataset, config: Config, state: dict) -> tuple[dict, dict]:
    """metrics.json's content for the (best) model, and per split its (scores, truth)."""
    batch = config.data.eval_batch_size
    dev_scores, dev_true = predict_split(model, data, "dev", batch)
    test_scores, test_true = predict_split(model, data, "test", batch)
    threshold = metric_fns.tune_threshold(dev_true, dev_scores)
    result = {
        "data_source": data.meta["source"],
        "best_epoch": state["best_epoch"],
        "dev": add_official_map(metric_fns.all_metrics(dev_true, dev_scores, threshold), data, "dev", dev_scores),
        "test": add_official_map(metric_fns.all_metrics(test_true, test_scores, threshold), data, "test", test_scores),
        "epochs": state["epochs"],
    }
    if suggested_candidates(model):  # thousands of codes: what the export's candidates keep, on dev
        first_stage = first_stage_scores(model, data, "dev", batch)
        result["candidates"] = choose_count(dev_scores, first_stage, dev_true, threshold)
        log.info("serving candidates: %d (0 = every code), keeping %s of what the exact model serves on dev",
                 result["candidates"]["chosen"], {c: round(m["agreement"], 4)
                                                  for c, m in result["candidates"]["by_count"].items()})
    if data.has_clean_labels:  # the synthetic corpus: also score against the noise-free labels
        result["test_clean"] = metric_fns.all_metrics(data.splits["test"].multi_hot(data.num_labels, clean=True),
                                                      test_scores, threshold)
    return result, {"dev": (dev_scores, dev_true), "test": (test_scores, test_true)}
