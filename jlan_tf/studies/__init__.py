"""Code shared by the study scripts of ``experiments/`` (sweeps, ablations, tables)."""
