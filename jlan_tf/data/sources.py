"""One function per source: read it with its adapter and write the prepared folder."""

from __future__ import annotations

from pathlib import Path

from jlan_tf.data import codiesp, jsonl, mimic3, mimic4, synthetic
from jlan_tf.data.prepared import WarningCounter, write_prepared


def prepare_synthetic(out, codes: str = "top50", n_docs: int = 10000, noise: float = 0.1, seed: int = 0,
                      mean_tokens: int = 300, **options) -> Path:
    """``codes`` is ``top50`` (the MIMIC-III-50 codes) or a number of sampled ICD-9 codes."""
    label_set = mimic3.MIMIC3_TOP50 if codes == "top50" else synthetic.sample_icd9_codes(int(codes), seed)
    splits = synthetic.generate(label_set, n_docs, noise=noise, seed=seed, mean_tokens=mean_tokens)
    forms = synthetic.CodeForms(label_set, seed)
    descriptions = {code: forms.forms[code][0] for code in label_set}
    settings = {"codes": codes, "n_docs": n_docs, "noise": noise, "seed": seed, "mean_tokens": mean_tokens}
    return write_prepared(out, source="synthetic", settings=settings, splits=splits, descriptions=descriptions,
                          labels=label_set, seed=seed, **options)


def prepare_codiesp(out, root, lang: str = "en", task: str = "D", top_codes: int | None = None,
                    label_space: str = "train_dev", **options) -> Path:
    warnings = WarningCounter()
    splits, descriptions, labels, settings = codiesp.read_codiesp(root, lang, task, top_codes, warnings,
                                                                       label_space)
    return write_prepared(out, source="codiesp", settings=settings, splits=splits, descriptions=descriptions,
                          labels=labels, warnings=warnings, **options)


def prepare_mimic3(out, mimic_dir, splits_dir=None, setting: str = "50", splits_file=None, min_code_count: int = 10,
                   **options) -> Path:
    warnings = WarningCounter()
    splits, descriptions, labels, settings = mimic3.read_mimic3(mimic_dir, splits_dir, setting, warnings, splits_file,
                                                                min_code_count)
    return write_prepared(out, source="mimic3", settings=settings, splits=splits, descriptions=descriptions,
                          labels=labels, warnings=warnings, **options)


def prepare_mimic4(out, mimic_dir, note_dir, icd_version: str = "10", splits_file=None, min_code_count: int = 10,
                   **options) -> Path:
    warnings = WarningCounter()
    splits, descriptions, labels, settings = mimic4.read_mimic4(mimic_dir, note_dir, icd_version, splits_file,
                                                                min_code_count, warnings)
    return write_prepared(out, source=f"mimic4_icd{icd_version}", settings=settings, splits=splits,
                          descriptions=descriptions, labels=labels, warnings=warnings, **options)


def prepare_jsonl(out, train, dev, test, codes: str | None = None, **options) -> Path:
    warnings = WarningCounter()
    splits = {name: jsonl.read_jsonl(path, warnings) for name, path in (("train", train), ("dev", dev), ("test", test))}
    descriptions = jsonl.read_code_table(codes, warnings) if codes else {}
    settings = {"files": {"train": str(Path(train).name), "dev": str(Path(dev).name), "test": str(Path(test).name)}}
    return write_prepared(out, source="jsonl", settings=settings, splits=splits, descriptions=descriptions,
                          warnings=warnings, **options)
