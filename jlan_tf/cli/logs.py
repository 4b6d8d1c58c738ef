"""How every command sets up its output: Python logging at INFO (``--quiet``: WARNING, ``-v``:
DEBUG), gensim at WARNING, and TensorFlow imported without its start-up noise.

TensorFlow's C++ start-up lines (``cudart_stub ... Could not find cuda drivers``, ``failed
call to cuInit`` on any machine without a GPU, absl's "All log messages before
absl::InitializeLog()") are written to the process's stderr before Python's logging exists,
and ``TF_CPP_MIN_LOG_LEVEL`` does not reach those printed before absl starts. So
``import_tensorflow`` points file descriptor 2 at a temporary file while TensorFlow loads and
looks for GPUs, then writes back every captured line except those known start-up lines:
nothing else is hidden.

One line comes later, while TensorFlow builds a model's graphs: on CPUs without AVX-512,
oneDNN's graph pass logs ``E0000 ... oneDNN supports DT_BOOL only on platforms with AVX-512.
Falling back to the default Eigen-based implementation`` (an error-looking line about a
fallback that is correct, and that a user can do nothing about). ``filter_native_stderr``
keeps file descriptor 2 behind a pipe for the rest of the process and drops just the lines
of ``RUNTIME_NOISE``; everything else, Python's own stderr included, passes through as it
comes (a partial line that cannot be a native log line, such as a progress bar, at once).

With ``-v``, or when the user set ``TF_CPP_MIN_LOG_LEVEL`` themselves, nothing is filtered.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import tempfile
import threading

STARTUP_NOISE = ("cudart_stub.cc", "cuda_platform.cc", "failed call to cuInit",
                 "All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
                 "cpu_feature_guard.cc", "To enable the following instructions",
                 "computation placer already registered", "Unable to register cu")


RUNTIME_NOISE = ("oneDNN supports DT_BOOL only on platforms with AVX-512",)
_NATIVE_PREFIX = re.compile(rb"[IWEF](\d{1,4}( .*)?)?$", re.S)  # the start of absl's "E0000 00:00:..." lines


class _StderrFilter:
    """File descriptor 2 through a pipe; a thread writes on what it read, less the noise lines."""

    def __init__(self, noise=RUNTIME_NOISE):
        self.noise = tuple(n.encode() for n in noise)
        sys.stderr.flush()
        self.target = os.dup(2)
        self.read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self.pipe_inode = os.fstat(2).st_ino
        self.thread = threading.Thread(target=self._pump, name="stderr-filter", daemon=True)
        self.thread.start()
        atexit.register(self.close)

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self.read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not any(n in line for n in self.noise))
            if pending and not _NATIVE_PREFIX.match(pending):
                out, pending = out + pending, b""
            if out:
                os.write(self.target, out)
        if pending:
            os.write(self.target, pending)

    def close(self) -> None:
        """Puts the original stderr back (when fd 2 is still the pipe) and drains the pipe."""
        sys.stderr.flush()
        if os.fstat(2).st_ino == self.pipe_inode:
            os.dup2(self.target, 2)  # the pipe's last write end closes: the thread reads its end
        self.thread.join(timeout=5)


_filter: _StderrFilter | None = None


def filter_native_stderr() -> None:
    """From now on, drop ``RUNTIME_NOISE`` lines from this process's stderr (once per process)."""
    global _filter
    if _filter is None:
        _filter = _StderrFilter()


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
    filter_native_stderr()
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
