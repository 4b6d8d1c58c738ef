"""CodiEsp adapter (CLEF eHealth 2020): ``ROOT/{train,dev[,test]}/`` with ``{split}D.tsv`` /
``{split}P.tsv`` (``doc_id<TAB>code``) and the notes in ``text_files_en/`` or ``text_files/``.

Evidence: with ``lang="es"`` the coders' spans of ``{split}X.tsv`` (``doc_id<TAB>DIAGNOSTICO|
PROCEDIMIENTO<TAB>code<TAB>span text<TAB>start end[;start end...]``, character offsets into the
Spanish text) are kept with each document, so the prepared folder holds them as token
positions (``S.evidence.npy``). The English text is a machine translation: the offsets do
not apply to it, and ``lang="en"`` keeps no evidence.

Splits: with ``test/`` present, train/dev/test are the official ones. Without it (the public
train + dev release) the official dev split becomes our test split, so figures compare with
published dev results, and our dev split (early stopping, threshold tuning) is 20 % of the
official train split, chosen by a hash of the document id: the same on every machine.
"""

from __future__ import annotations

import collections
import logging
import zlib
from pathlib import Path

from jlan_tf.data.descriptions import icd10cm_description, icd10pcs_description
from jlan_tf.data.prepared import DataError, Document, WarningCounter
from jlan_tf.data.readers import open_text

log = logging.getLogger(__name__)


def _read_codes(path: Path) -> dict[str, list[str]]:
    codes: dict[str, list[str]] = collections.defaultdict(list)
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            fields = line.strip().split("\t")
            if fields == [""]:
                continue
            if len(fields) < 2:
                raise DataError(f"{path}:{line_no}: expected doc_id<TAB>code")
            code = fields[1].strip().lower()
            if code not in codes[fields[0]]:
                codes[fields[0]].append(code)
    return codes


_X_TYPES = {"D": "DIAGNOSTICO", "P": "PROCEDIMIENTO"}


def _read_evidence(path: Path, task: str) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """doc_id -> code -> character spans, from an ``X`` file (the span text is not kept)."""
    evidence: dict = collections.defaultdict(lambda: collections.defaultdict(list))
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if fields == [""]:
                continue
            if len(fields) != 5:
                raise DataError(f"{path}:{line_no}: expected 5 tab-separated fields, got {len(fields)}")
            if fields[1] != _X_TYPES[task]:
                continue
            try:
                spans = [tuple(int(v) for v in part.split()) for part in fields[4].split(";")]
            except ValueError:
                spans = []
            if not spans or any(len(s) != 2 or s[0] > s[1] for s in spans):
                raise DataError(f"{path}:{line_no}: field 5 must be 'start end[;start end...]' character offsets")
            evidence[fields[0]][fields[2].strip().lower()].extend(spans)
    return evidence


def _read_split(root: Path, split: str, lang: str, task: str, warnings: WarningCounter) -> list[Document]:
    folder = root / split
    text_dir = folder / ("text_files_en" if lang == "en" else "text_files")
    if not text_dir.is_dir():
        raise DataError(f"{text_dir}: folder not found (language {lang!r})")
    codes = _read_codes(folder / f"{split}{task}.tsv")
    x_path = folder / f"{split}X.tsv"
    evidence = _read_evidence(x_path, task) if lang == "es" and x_path.is_file() else None
    docs = []
    for path in sorted(text_dir.glob("*.txt")):
        with open_text(path, warnings) as f:
            text = f.read()
        doc_codes = codes.pop(path.stem, [])
        doc_evidence = None if evidence is None else dict(evidence.pop(path.stem, {}))
        if doc_evidence is not None and set(doc_evidence) - set(doc_codes):
            warnings[f"{split}: evidence spans for codes the document does not have"] += len(set(doc_evidence) - set(doc_codes))
        docs.append(Document(path.stem, text, doc_codes, evidence=doc_evidence))
    if codes:
        warnings[f"{split}: coded documents without a text file"] += len(codes)
    return docs


def terminology_codes(task: str) -> list[str]:
    """Every code of the terminology in CodiEsp's form (lower case): ICD-10-CM's categories and
    subcategories (task D, about 96,000) or ICD-10-PCS's full codes (task P)."""
    if task == "P":
        from jlan_tf.data.descriptions import _icd10pcs_table

        return sorted(_icd10pcs_table())
    import simple_icd_10_cm as cm

    return sorted(c.lower() for c in cm.get_all_codes(True) if cm.is_category(c) or cm.is_subcategory(c))


def read_codiesp(root: str | Path, lang: str = "en", task: str = "D", top_codes: int | None = None,
                 warnings: WarningCounter | None = None, label_space: str = "train_dev"):
    """Returns (splits, descriptions, labels, settings) for ``write_prepared``.

    The label set: the ``top_codes`` most frequent training codes; else (``label_space``)
    every code of the training and dev splits (``train_dev``, the default: never test's), or
    the whole terminology plus those (``terminology``: a code no training note has can still
    be ranked from its description, zero-shot)."""
    if label_space not in ("train_dev", "terminology"):
        raise DataError(f"label space must be train_dev or terminology, got {label_space!r}")
    root, warnings = Path(root), warnings if warnings is not None else WarningCounter()
    if lang not in ("en", "es") or task not in ("D", "P"):
        raise DataError(f"{root}: language must be en|es and task D|P, got {lang!r} and {task!r}")
    if not (root / "train").is_dir():
        raise DataError(f"{root}: not a CodiEsp release (no train/ folder)")
    train = _read_split(root, "train", lang, task, warnings)
    official_dev = _read_split(root, "dev", lang, task, warnings)
    if (root / "test").is_dir():
        splits = {"train": train, "dev": official_dev, "test": _read_split(root, "test", lang, task, warnings)}
        layout = "official train/dev/test"
    else:
        is_dev = lambda doc: zlib.crc32(doc.id.encode()) % 5 == 0
        splits = {"train": [d for d in train if not is_dev(d)], "dev": [d for d in train if is_dev(d)],
                  "test": official_dev}
        layout = "no test/: test = official dev; dev = 20% of official train (crc32 of id)"
        log.info("CodiEsp: %s", layout)

    labels = None
    if top_codes:
        counts = collections.Counter(c for d in splits["train"] for c in d.codes)
        labels = sorted(code for code, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_codes])
    seen = {c for name in ("train", "dev") for d in splits[name] for c in d.codes}
    if not labels:
        labels = sorted(seen | set(terminology_codes(task))) if label_space == "terminology" else sorted(seen)
    all_codes = labels
    describe = icd10cm_description if task == "D" else icd10pcs_description
    descriptions = {code: desc for code in all_codes if (desc := describe(code))}
    settings = {"lang": lang, "task": task, "top_codes": top_codes, "layout": layout,
                **({"label_space": label_space} if label_space != "train_dev" and not top_codes else {})}
    return splits, descriptions, labels, settings
