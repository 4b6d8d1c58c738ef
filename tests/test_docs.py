"""The documentation matches the code: the generated option and preset pages, the presets in
``--help``, and every ``results/`` file the README and docs/ name exists."""

import json
import re
from pathlib import Path

import pytest

from jlan_tf.config import PRESETS, Config
from jlan_tf.studies.config_docs import DOCS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", sorted(DOCS))
def test_generated_pages_match_the_code(path):
    assert (ROOT / path).read_text(encoding="utf-8") == DOCS[path]() + "\n", \
        f"{path} is stale: run python experiments/config_docs.py"


def test_every_option_is_documented_with_a_meaning():
    page = DOCS["docs/configuration.md"]()
    for section, values in Config().to_dict().items():
        if section == "version":
            continue
        for key in values:
            row = next(line for line in page.splitlines() if line.startswith(f"| `{section}.{key}` |"))
            assert row.rstrip("| ").split("|")[-1].strip(), f"{section}.{key} has no meaning in config.py"


def test_help_lists_the_presets_and_print_config_resolves(capsys):
    from jlan_tf.cli import train

    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in PRESETS) and "docs/configuration.md" in text
    assert train.main(["--dataset", "top50", "--preset", "jlan_paper", "--set", "train.epochs=2",
                       "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["train"]["d_max"] == 0.15 and config["train"]["epochs"] == 2
    assert config["model"]["lexical_output"] is False


def test_every_results_file_named_in_the_docs_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    missing = []
    for page in pages:
        # results files (an extension); not run folders, which are not committed, nor patterns (NAME, SHAPE)
        for name in re.findall(r"results/[\w./=+*-]+\.(?:json|csv|tsv|md|png|txt)\b", page.read_text(encoding="utf-8")):
            if not re.search(r"[A-Z]{4}|/runs/", name) and not (ROOT / name).exists():
                missing.append(f"{page.relative_to(ROOT)}: {name}")
    assert not missing, missing
