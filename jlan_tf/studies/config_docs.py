"""``docs/configuration.md`` and ``docs/presets.md``, generated from the config dataclasses and
``PRESETS`` (``python experiments/config_docs.py`` writes them; a test checks they match)."""

from __future__ import annotations

import dataclasses
import inspect
import re

from jlan_tf.config import PRESET_HELP, PRESETS, Config

SECTIONS = {"data": "what to train on", "model": "the network", "train": "optimisation and the truncation loss",
            "study": "switches for studies and the paper's readings (the defaults are the chosen forms)"}
_FIELD = re.compile(r"^\s+(\w+): [^=]+=[^#]*(?:#\s*(.*))?$")


def _comments(cls) -> dict[str, str]:
    """Each field's trailing ``#`` comment in the dataclass's source."""
    out = {}
    for line in inspect.getsource(cls).splitlines():
        match = _FIELD.match(line)
        if match:
            out[match.group(1)] = (match.group(2) or "").strip()
    return out


def configuration_md() -> str:
    lines = ["# Configuration", "",
             "Every option of `jlan-train` / `python experiments/train.py`, set with",
             "`--set section.key=value` (repeatable) after `--preset NAME` ([presets](presets.md)).",
             "`--print-config` shows the resolved settings without training. Generated from",
             "`jlan_tf/config.py` by `python experiments/config_docs.py`; a test fails when they differ.", ""]
    defaults = Config()
    for field in dataclasses.fields(Config):
        section = getattr(defaults, field.name)
        comments = _comments(type(section))
        lines += [f"## `{field.name}`: {SECTIONS[field.name]}", "", "| option | type | default | meaning |",
                  "|---|---|---|---|"]
        for option in dataclasses.fields(section):
            value = getattr(section, option.name)
            kind = option.type if isinstance(option.type, str) else option.type.__name__
            text = comments.get(option.name, "").replace("|", "\\|")
            lines.append(f"| `{field.name}.{option.name}` | {kind} | `{value!r}` | {text} |")
        lines.append("")
    return "\n".join(lines)


def presets_md() -> str:
    lines = ["# Presets", "",
             "`--preset NAME` (or `--set preset=NAME`) applies these settings before any `--set`.",
             "Generated from `PRESETS` in `jlan_tf/config.py` by `python experiments/config_docs.py`.", ""]
    for name, settings in PRESETS.items():
        lines += [f"## `{name}`", "", PRESET_HELP[name] + ".", ""]
        lines += [f"- `{key}={value}`" for key, value in settings.items()] or ["- (the defaults)"]
        lines.append("")
    return "\n".join(lines)


DOCS = {"docs/configuration.md": configuration_md, "docs/presets.md": presets_md}
