"""What ``--dataset NAME`` means: a prepared folder, prepared on first use where we can.

- ``top50`` / ``full``: prepared MIMIC-III at ``DATA_ROOT/mimic3_50`` / ``DATA_ROOT/mimic3_full``
  (or ``--data-dir``), made once with ``jlan-prepare mimic3``. Without it, the synthetic
  corpus stands in: the MIMIC-III-50 codes for ``top50``; for ``full``, which needs MIMIC-III
  to know its 8,921 codes, ``data.synthetic_full_codes`` ICD-9 codes sampled with the seed.
- ``codiesp``: the CodiEsp release at ``--data-dir``, prepared to
  ``DATA_ROOT/codiesp_{en|es}_D_top{N|all}`` (``--lang es``: the original Spanish text, with
  the coders' evidence spans).
- ``mimic4_icd9`` / ``mimic4_icd10``: prepared MIMIC-IV at ``DATA_ROOT/mimic4_icd9`` /
  ``DATA_ROOT/mimic4_icd10`` (or ``--data-dir``), made once with ``jlan-prepare mimic4``; no
  synthetic stand-in.
- ``synthetic``: the synthetic corpus with the MIMIC-III-50 codes.
- anything else: a prepared folder.

``DATA_ROOT`` is ``data/`` in the working directory, or ``$JLAN_DATA``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from jlan_tf.config import DataConfig
from jlan_tf.data.prepared import DataError
from jlan_tf.data.sources import prepare_codiesp, prepare_synthetic


@dataclasses.dataclass
class ResolvedDataset:
    path: Path
    data_source: str        # the prepared folder's source: mimic3 | mimic4_icd9|10 | codiesp | synthetic | jsonl
    note: str = ""          # one plain line for the user, when we substituted something


def data_root() -> Path:
    return Path(os.environ.get("JLAN_DATA", "data"))


def _synthetic(codes: str, data: DataConfig) -> Path:
    seed = data.synthetic_seed
    name = f"synthetic_{codes}_n{data.synthetic_docs}_noise{data.synthetic_noise}_t{data.synthetic_mean_tokens}_s{seed}"
    path = data_root() / name
    if not (path / "meta.json").exists():
        prepare_synthetic(path, codes=codes, n_docs=data.synthetic_docs, noise=data.synthetic_noise, seed=seed,
                          mean_tokens=data.synthetic_mean_tokens, max_tokens=data.max_tokens)
    return path


def is_synthetic(name: str, data_dir: str | None = None) -> bool:
    """Whether ``resolve(name, ...)`` would give the synthetic corpus (prepares nothing)."""
    if name in ("top50", "full"):
        setting = "50" if name == "top50" else "full"
        return not ((Path(data_dir) if data_dir else data_root() / f"mimic3_{setting}") / "meta.json").exists()
    return name == "synthetic"


def resolve(name: str, data: DataConfig, data_dir: str | None = None, top_codes: int | None = None,
            lang: str = "en") -> ResolvedDataset:
    if name in ("top50", "full"):
        setting = "50" if name == "top50" else "full"
        mimic = Path(data_dir) if data_dir else data_root() / f"mimic3_{setting}"
        if (mimic / "meta.json").exists():
            return ResolvedDataset(mimic, "mimic3")
        codes = "top50" if name == "top50" else str(data.synthetic_full_codes)
        what = "the MIMIC-III-50 codes" if name == "top50" else f"{codes} sampled ICD-9 codes (not MIMIC's 8,921)"
        note = (f"MIMIC-III not found at {mimic} (see README: jlan-prepare mimic3); running on the built-in "
                f"SYNTHETIC corpus with {what} instead.")
        return ResolvedDataset(_synthetic(codes, data), "synthetic", note)
    if name == "synthetic":
        return ResolvedDataset(_synthetic("top50", data), "synthetic")
    if name in ("mimic4_icd9", "mimic4_icd10"):
        path = Path(data_dir) if data_dir else data_root() / name
        if not (path / "meta.json").exists():
            version = name[-1] if name.endswith("9") else "10"
            raise DataError(f"{path}: no prepared MIMIC-IV there; run jlan-prepare mimic4 --mimic-dir D --note-dir N "
                            f"--icd-version {version} --out {path} (MIMIC-IV needs credentialed access)")
        return ResolvedDataset(path, name)
    if name == "codiesp":
        if not data_dir:
            raise DataError("--dataset codiesp needs --data-dir: the CodiEsp release folder (train/ dev/ [test/])")
        path = data_root() / f"codiesp_{lang}_D_top{top_codes or 'all'}"
        if not (path / "meta.json").exists():
            prepare_codiesp(path, data_dir, lang, "D", top_codes, max_tokens=data.max_tokens)
        return ResolvedDataset(path, "codiesp")
    path = Path(name)
    if not (path / "meta.json").exists():
        raise DataError(f"{name}: not a dataset name (top50, full, mimic4_icd9, mimic4_icd10, codiesp, synthetic) "
                        f"nor a prepared folder")
    return ResolvedDataset(path, json.loads((path / "meta.json").read_text())["source"])
