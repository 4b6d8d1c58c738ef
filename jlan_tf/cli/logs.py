"""How every command sets up its output: Python logging at INFO (``--quiet``: WARNING, ``-v``:
DEBUG), gensim at WARNING, and TensorFlow imported without its start-up noise.

TensorFlow's C++ start-up lines (``cudart_stub ... Could not find cuda drivers``, ``failed
call to cuInit`` on any machine without a GPU, absl's "All log messages before
absl::InitializeLog()") are written to the process's stderr before Python's logging exists,
and ``TF_CPP_MIN_LOG_LEVEL`` does not reach those printed before absl starts. So
``import_tensorflow`` points file descriptor 2 at a temporary file while TensorFlow loads and
looks for GPUs, then writes back every captured line except those known start-up lines:
nothing else is hidden. With ``-v``, or when the user set ``TF_CPP_MIN_LOG_LEVEL`` themselves,
nothing is filtered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile

STARTUP_NOISE = ("cudart_stub.cc", "cuda_platform.cc", "failed call to cuInit",
                 "All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
                 "cpu_feature_guard.cc", "To enable the following instructions",
                 "computation placer already registered", "Unable to register cu")


@contextlib.contextmanager
def _filtered_native_stderr(noise=STARTUP_NOISE):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if not any(pattern in line for pattern in noise):
                    print(line, file=sys.stderr)


def import_tensorflow(verbosity: int = 0):
    """Imports TensorFlow (and lists the GPUs once) without the start-up noise; returns it."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if verbosity > 0 or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow as tf

        return tf
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _filtered_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf


def setup(verbosity: int = 0, tensorflow: bool = True) -> None:
    """``verbosity``: -1 (--quiet) WARNING, 0 INFO, 1 (-v) DEBUG."""
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("gensim").setLevel(logging.DEBUG if verbosity > 0 else logging.WARNING)
    if tensorflow:
        import_tensorflow(verbosity)


def add_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    group.add_argument("-v", "--verbose", action="store_true", help="debug logs, TensorFlow's own logs unfiltered")


def verbosity(args) -> int:
    return -1 if args.quiet else 1 if args.verbose else 0
