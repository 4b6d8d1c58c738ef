"""Adapters -> prepared dataset -> tf.data. See DESIGN.md section 2."""

from jlan_tf.data.prepared import DataError, Document, PreparedDataset, Split, load_prepared, write_prepared

__all__ = ["DataError", "Document", "PreparedDataset", "Split", "load_prepared", "write_prepared"]
