"""Adapters -> prepared dataset (``prepared.py``) -> tf.data (``pipeline.py``); README: "Data"."""

from jlan_tf.data.prepared import DataError, Document, PreparedDataset, Split, load_prepared, write_prepared

__all__ = ["DataError", "Document", "PreparedDataset", "Split", "load_prepared", "write_prepared"]
