"""Quiet by default: TensorFlow's start-up lines are filtered from the commands' stderr, and
nothing else is."""

import os
import subprocess
import sys

from jlan_tf.cli import logs


def test_only_the_known_start_up_lines_are_filtered(capfd):
    with logs._filtered_native_stderr():
        os.write(2, b"I0000 00:00:1 123 cudart_stub.cc:31] Could not find cuda drivers on your machine\n")
        os.write(2, b"E0000 00:00:1 123 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
        os.write(2, b"a real problem, kept\n")
    assert capfd.readouterr().err == "a real problem, kept\n"


def test_a_fresh_process_imports_tensorflow_quietly():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "from jlan_tf.cli import logs; tf = logs.import_tensorflow(); print(tf.constant(2).numpy())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "2"
    assert not any(p in out.stderr for p in ("cudart_stub", "cuInit", "absl::InitializeLog")), out.stderr


def test_the_dt_bool_line_is_filtered_for_the_whole_run_and_nothing_else():
    # The line oneDNN logs while building graphs on CPUs without AVX-512 (this machine may have
    # it, so the line is written here as TensorFlow's C++ would write it: to fd 2).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = ("import os, sys; from jlan_tf.cli import logs; logs.import_tensorflow();"
            "os.write(2, b'E0000 00:00:1796 2281 mkl_util.h:1] oneDNN supports DT_BOOL only on platforms with "
            "AVX-512. Falling back to the default Eigen-based implementation if present.\\n');"
            "os.write(2, b'E0000 00:00:1796 2281 other.cc:1] a real error, kept\\n');"
            "os.write(2, b'\\r 50%|progress');"
            "print('python stderr, kept', file=sys.stderr); print('out')")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "out"
    assert "DT_BOOL" not in out.stderr
    assert "a real error, kept" in out.stderr and "python stderr, kept" in out.stderr and "50%|progress" in out.stderr
