"""Export a trained run as a SavedModel for TensorFlow Serving.

``saved_models/NAME/VERSION/`` holds two signatures that take raw note text (a batch of
``tf.string``) and need TensorFlow only — not this package — to run:

- ``serving_default`` -> ``probabilities`` float32 (B, L) for every code in label order,
  ``top_codes`` string (B, K), ``top_descriptions`` string (B, K), ``top_scores`` float32 (B, K),
  ``top_coded`` bool (B, K): whether each top code's score reaches the threshold tuned on the
  run's dev split (micro-F1's best; ``metrics.json``'s ``dev.threshold``, 0.5 where a run has
  none): the yes/no per code, for a deployment that must decide rather than rank;
- ``explain`` -> the same top-k outputs, ``tokens`` string (B, T) (the note's tokens, "" as
  padding) and ``attention`` float32 (B, K, T): for each top code, the weight of each token in
  the code's document vector, ``(w_s A_s + w_l A_l) / (w_s + w_l)`` with the fusion weights
  ``w`` (for joint fusion exactly the attention that built ``V``). Rows sum to 1 over tokens;
  and ``contribution`` float32 (B, K, T): each token's first-order share of the code's logit
  (``jlan_tf.attribution``; positive = for the code, negative = against it), the better
  evidence ranking on CodiEsp's dev spans (README: "Evidence quality").

``assets/vocab.txt`` and ``assets/labels.tsv`` (code, description, train count) travel as
assets and feed the in-graph lookup tables; ``assets.extra/tf_serving_warmup_requests`` holds
warm-up requests for both signatures.

The in-graph tokenizer mirrors ``jlan_tf.tokenization.tokenize``: Unicode lower-casing,
runs of ``[\\p{L}\\p{N}]``, runs without a letter dropped, the first ``max_tokens`` kept.
Known divergence: ``str.lower`` is context-sensitive for two characters (final sigma "Σ" and
dotted "İ") where TensorFlow lower-cases one character at a time; tests check parity on the
synthetic and CodiEsp notes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

import jlan_tf.model  # noqa: F401  (registers the custom classes for load_model)
from jlan_tf import projected_scores
from jlan_tf.attribution import contributions_from, probe_model
from jlan_tf.candidates import candidate_logits, supports_candidates
from jlan_tf.layers import FastLSTM
from jlan_tf.layers.dual_attention import views_only
from jlan_tf.run_folder import RunFolder
from jlan_tf.tokenization import PAD_ID, UNK_ID

log = logging.getLogger(__name__)


def tokenize_in_graph(text: tf.Tensor, max_tokens: int) -> tf.RaggedTensor:
    """(B,) tf.string -> (B, None) ragged tf.string tokens, the twin of ``tokenize``."""
    lowered = tf.strings.lower(text, encoding="utf-8")
    spaced = tf.strings.regex_replace(lowered, r"[^\p{L}\p{N}]+", " ")
    tokens = tf.strings.split(spaced)
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.regex_full_match(tokens, r".*\p{L}.*"))
    return tokens[:, :max_tokens]


def _line_table(path: str, key_index, value_index, key_dtype, value_dtype, default, delimiter="\t"):
    initializer = tf.lookup.TextFileInitializer(path, key_dtype, key_index, value_dtype, value_index,
                                                delimiter=delimiter)
    return tf.lookup.StaticHashTable(initializer, default_value=default)


class JLANServing(tf.Module):
    """The exported computation: text -> tokens -> ids -> JLAN -> top-k codes (and evidence)."""

    def __init__(self, model: keras.Model, vocab_path: str, labels_path: str, max_tokens: int, top_k: int,
                 fused_single_note: bool = False, threshold: float = 0.5, candidates: int = 0):
        super().__init__()
        self.model, self.max_tokens, self.threshold = model, max_tokens, float(threshold)
        # The probe: the model's layers, also giving the attended features h and the output's input V;
        # for one-note requests, its twin with the BiLSTM on the fused kernel (same weights).
        self.probe = probe_model(model)
        self.single_note_probe = with_fused_lstm(self.probe) if fused_single_note else self.probe
        labels = model.get_layer("output").num_labels
        if candidates and not supports_candidates(model):
            raise ValueError("candidates need JLAN with its TF-IDF part (model.lexical_output); export with candidates=0")
        self.candidates = candidates if 0 < candidates < labels else 0
        self.encoders = [keras.Model(p.inputs, p.outputs[0]) for p in (self.probe, self.single_note_probe)]
        self.top_k = min(top_k, model.get_layer("output").num_labels)
        line = tf.lookup.TextFileIndex.LINE_NUMBER
        self.vocab = _line_table(vocab_path, tf.lookup.TextFileIndex.WHOLE_LINE, line, tf.string, tf.int64,
                                 UNK_ID, delimiter=" ")
        self.codes = _line_table(labels_path, line, 0, tf.int64, tf.string, "")
        self.descriptions = _line_table(labels_path, line, 1, tf.int64, tf.string, "")

    def _run(self, text, scores_only=False):
        tokens = tokenize_in_graph(text, self.max_tokens)
        ids = tf.cast(self.vocab.lookup(tokens), tf.int32)
        longest = tf.maximum(tf.reduce_max(tokens.row_lengths()), 1)  # an empty batch still has one step
        dense_ids = ids.to_tensor(default_value=PAD_ID, shape=tf.stack([tf.shape(text, tf.int64)[0], longest]))
        one_note = tf.shape(dense_ids)[0] == 1  # one note: the fused-kernel twin (about 2x faster); batches: Keras' loop
        if scores_only and projected_scores.supports(self.model):  # every code, or each note's candidates
            logits = lambda encoder: projected_scores.logits(self.model, encoder, dense_ids, self.candidates)
            logits = tf.cond(one_note, lambda: logits(self.encoders[1]), lambda: logits(self.encoders[0]))
            return self._result(logits)[0], tokens, None, None, longest
        if self.candidates and scores_only:  # the network on each note's first-stage candidates only
            logits = lambda encoder: candidate_logits(self.model, encoder, dense_ids, self.candidates)
            logits = tf.cond(one_note, lambda: logits(self.encoders[1]), lambda: logits(self.encoders[0]))
            return self._result(logits)[0], tokens, None, None, longest
        call = lambda probe: tuple(probe({"tokens": dense_ids}, training=False))
        if self.single_note_probe is self.probe:
            h, v, outputs = call(self.probe)
        else:
            h, v, outputs = tf.cond(one_note, lambda: call(self.single_note_probe), lambda: call(self.probe))
        result, top_index = self._result(outputs["logits"])
        return result, tokens, top_index, (dense_ids, h, v, outputs), longest

    def _result(self, logits):
        probabilities = tf.sigmoid(tf.cast(logits, tf.float32))
        top_scores, top_index = tf.math.top_k(probabilities, k=self.top_k)
        return {
            "probabilities": probabilities,
            "top_codes": self.codes.lookup(tf.cast(top_index, tf.int64)),
            "top_descriptions": self.descriptions.lookup(tf.cast(top_index, tf.int64)),
            "top_scores": top_scores,
            "top_coded": top_scores >= self.threshold,
        }, top_index

    def serve(self, text):
        with views_only():  # scores only: no (batch, labels, tokens) maps of every code
            return self._run(text, scores_only=True)[0]

    def explain(self, text):
        result, tokens, top_index, (dense_ids, h, v, outputs), longest = self._run(text)
        mixed, contributions = contributions_from(self.model, dense_ids, h, v, outputs)      # (B, L, T) each
        weights = tf.cast(outputs["fusion_weights"], tf.float32)                   # (B, L, 2)
        mixed = mixed / tf.reduce_sum(weights, axis=-1, keepdims=True)
        result.pop("probabilities")
        result["attention"] = tf.gather(mixed, top_index, batch_dims=1)            # (B, K, T)
        result["contribution"] = tf.gather(contributions, top_index, batch_dims=1)
        result["tokens"] = tokens.to_tensor(default_value="", shape=tf.stack([tf.shape(text, tf.int64)[0], longest]))
        return result


class FusedBidirectionalLSTM(keras.layers.Layer):
    """Inference twin of ``Bidirectional(LSTM)`` on TensorFlow's fused whole-sequence kernel
    (``BlockLSTMV2``, gates in Keras' i, f, c, o order): on CPU it runs one 2,500-token note
    about twice as fast as Keras' step loop; from two notes on Keras' loop is faster, and its
    gradient is slower for training, so it serves single-note requests only. The backward
    direction reverses each note's real tokens only (``reverse_sequence``), so right padding
    never enters a state; outputs at padded positions are not zeroed, and the masked
    attention gives them no weight."""

    def __init__(self, source: keras.layers.Bidirectional, **kwargs):
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.supports_masking = True

    def _direction(self, lstm, x):
        kernel, recurrent, bias = (tf.cast(v, tf.float32) for v in (lstm.cell.kernel, lstm.cell.recurrent_kernel,
                                                                   lstm.cell.bias))
        batch = tf.shape(x)[1]
        zeros = tf.zeros(tf.stack([batch, lstm.units]))
        no_peephole = tf.zeros([lstm.units])
        return tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=zeros, h_prev=zeros,
            w=tf.concat([kernel, recurrent], 0), wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias,
            cell_clip=0.0, use_peephole=False)[6]

    def call(self, inputs, mask=None):
        x = tf.transpose(tf.cast(inputs, tf.float32), [1, 0, 2])                 # (T, B, e)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int64), axis=1) if mask is not None else \
            tf.fill(tf.shape(x)[1:2], tf.cast(tf.shape(x)[0], tf.int64))
        reverse = lambda t: tf.reverse_sequence(t, lengths, seq_axis=0, batch_axis=1)
        forward = self._direction(self.source.forward_layer, x)
        backward = reverse(self._direction(self.source.backward_layer, reverse(x)))
        out = tf.transpose(tf.concat([forward, backward], -1), [1, 0, 2])        # (B, T, 2k)
        return tf.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return self.source.compute_output_shape(input_shape)


def with_fused_lstm(model: keras.Model) -> keras.Model:
    """The same model (same weights) with its BiLSTM on the fused kernel, for inference."""
    replace = lambda layer: FusedBidirectionalLSTM(layer) if isinstance(layer, keras.layers.Bidirectional) else layer
    return keras.models.clone_model(model, clone_function=replace)


def portable(model: keras.Model) -> keras.Model:
    """Makes the model's recurrent layers trace to plain TensorFlow ops on any device: no cuDNN
    kernel (an export made where a GPU is visible must serve on a CPU-only TF Serving) and no
    XLA-compiled loops (TF Serving builds need not include XLA). Returns the same model."""
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.LSTM):
            layer.use_cudnn = False
        if isinstance(layer, FastLSTM):
            layer.jit_loops = False
    return model


def next_version(folder: Path) -> int:
    versions = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.exists() else []
    return max(versions, default=0) + 1


WARMUP_NOTES = ["Patient admitted with congestive heart failure and atrial fibrillation.", ""]


def write_warmup(export_dir: Path) -> Path:
    """``assets.extra/tf_serving_warmup_requests``: one PredictionLog per signature."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = export_dir / "assets.extra" / "tf_serving_warmup_requests"
    path.parent.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in ("serving_default", "explain"):
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name=signature))
            request.inputs["text"].CopyFrom(tf.make_tensor_proto(WARMUP_NOTES, dtype=tf.string))
            log_entry = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log_entry.SerializeToString())
    return path


def export_model(model: keras.Model, vocab_path: Path, labels_path: Path, max_tokens: int, out: Path,
                 version: int | None = None, top_k: int = 10, threshold: float = 0.5,
                 candidates: int = 0) -> Path:
    """Writes ``out/version/`` (default: the next free version) for a Keras model and its
    vocabulary and label table; ``top_coded`` is ``top_scores >= threshold``. ``serving_default``
    scores each note's ``candidates`` first-stage codes only (``jlan_tf.candidates``; 0, the
    default: every code). For requests of one note it adds the BiLSTM on the fused
    kernel (same weights, same results to 1e-7, about twice as fast there)."""
    from jlan_tf.memory import check_fits, export_bytes

    check_fits(export_bytes(sum(v.numpy().nbytes for v in model.weights)), "the export",
               "export on a machine with more memory")
    out = Path(out)
    version = version if version is not None else next_version(out)
    target = out / str(version)
    if target.exists():
        raise FileExistsError(f"{target}: that version exists")
    out.mkdir(parents=True, exist_ok=True)
    model = portable(model)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=out))
    try:
        staged = tmp / "assets_in"
        staged.mkdir()
        shutil.copy(vocab_path, staged / "vocab.txt")
        shutil.copy(labels_path, staged / "labels.tsv")
        serving = JLANServing(model, str(staged / "vocab.txt"), str(staged / "labels.tsv"), max_tokens, top_k,
                              fused_single_note=True, threshold=threshold,
                              candidates=candidates)
        if serving.candidates:
            log.info("serving_default scores each note's %d first-stage codes of %d (candidates; 0 scores all)",
                     serving.candidates, model.get_layer("output").num_labels)
        archive = keras.export.ExportArchive()
        archive.track(model)
        for table in (serving.vocab, serving.codes, serving.descriptions):
            archive.track(table)
        spec = [tf.TensorSpec([None], tf.string, name="text")]
        archive.add_endpoint("serving_default", serving.serve, input_signature=spec)
        archive.add_endpoint("explain", serving.explain, input_signature=spec)
        archive.write_out(str(tmp / "model"), verbose=False)
        write_warmup(tmp / "model")
        (tmp / "model").rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %s", target)
    return target


def export_run(run_dir: str | Path, out: str | Path | None = None, version: int | None = None,
               top_k: int = 10, candidates: int | str = "auto") -> Path:
    """Exports a finished run to ``out/version/`` (default ``saved_models/<run name>/<next free version>/``),
    its codes' yes/no (``top_coded``) at the threshold tuned on its dev split. ``candidates``:
    ``"auto"`` serves the count training chose on dev (metrics.json's ``"candidates"``; every
    code where it chose none, the run has no choice, or ``top_k`` exceeds what it measured), an
    integer that count (0: every code)."""
    run = RunFolder(run_dir)
    missing = run.missing_export_assets()
    if missing:
        raise FileNotFoundError(f"{missing[0]}: missing; is {run.path} a finished training run?")
    metrics = run.read("metrics") if run.metrics.exists() else {}
    dev = metrics.get("dev", {})
    threshold = dev.get("threshold", 0.5)
    log.info("top codes at or above %.2f are marked coded (%s)", threshold,
             "the threshold tuned on dev" if "threshold" in dev else "the run has no dev threshold")
    if candidates == "auto":
        choice = metrics.get("candidates", {})
        candidates = choice.get("chosen", 0) if top_k <= choice.get("top_k", 0) else 0
        if choice:
            log.info("candidates: %d (chosen on dev for the top %d codes; 0 = every code)%s", candidates,
                     choice["top_k"], "" if top_k <= choice["top_k"] else f": not for --top-k {top_k}")
    return export_model(keras.models.load_model(run.model), run.vocab, run.labels, run.read("tokenizer")["max_tokens"],
                        Path(out) if out else Path("saved_models") / run.name, version, top_k, threshold, candidates)
