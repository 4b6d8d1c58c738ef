"""Writes docs/configuration.md and docs/presets.md from the config dataclasses and PRESETS.

    python experiments/config_docs.py
"""

import sys
from pathlib import Path

from jlan_tf.studies.config_docs import DOCS


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    for path, make in DOCS.items():
        (root / path).write_text(make() + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
