"""The training config: every key typed and documented, unknown keys refused, no torch imported."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from training.spec.config import ConfigError, defaults, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "training" / "examples").glob("*.yaml"))
MINIMAL = "model:\n  name: org/model\ndata:\n  train_file: train.jsonl\n"


def test_minimal_config_gets_documented_defaults():
    config = parse_config(MINIMAL)
    assert config.model.name == "org/model"
    assert config.quantization.mode == "4bit"
    assert config.lora.target_modules == "auto"
    assert config.train.max_length == 1024


def test_unknown_key_names_key_section_and_line():
    text = MINIMAL + "train:\n  epochs: 2\n  learning_rte: 0.1\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert "train.learning_rte" in str(info.value)
    assert "section 'train'" in str(info.value)
    assert info.value.line == 7


def test_unknown_section_is_an_error():
    with pytest.raises(ConfigError, match="unknown section 'trainer'"):
        parse_config(MINIMAL + "trainer:\n  epochs: 1\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("train:\n  batch_size: four\n", "train.batch_size must be an integer"),
        ("quantization:\n  mode: 3bit\n", "quantization.mode must be one of 4bit, 8bit, none"),
        ("lora:\n  target_modules: [1, 2]\n", "lora.target_modules must be"),
        ("data:\n  train_file: t.jsonl\n  eval_split: 1.5\n", "data.eval_split"),
        ("train:\n  max_steps: 0\n  epochs: 0\n", "train.epochs > 0 or train.max_steps > 0"),
    ],
)
def test_bad_values_name_the_key(extra, message):
    text = (
        MINIMAL.replace("data:\n  train_file: train.jsonl\n", "") if "data:" in extra else MINIMAL
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text + extra)


def test_missing_required_key():
    with pytest.raises(ConfigError, match=r"missing required key model\.name"):
        parse_config("model: {}\ndata:\n  train_file: t.jsonl\n")


def test_template_columns_must_be_listed():
    text = MINIMAL + "  text_cols: [phrase]\n  text_template: '{phrase} -> {tone}'\n"
    with pytest.raises(ConfigError, match="tone"):
        parse_config(text)


def test_unreadable_yaml_gives_line():
    with pytest.raises(ConfigError) as info:
        parse_config("model:\n  name: [unclosed\n")
    assert info.value.line is not None


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_configs_load(path: Path):
    config = load_config(path)
    assert config.model.name


def test_examples_exist_for_each_target():
    names = {p.name for p in EXAMPLES}
    assert {"phi3-a100.yaml", "phi3-t4.yaml", "smollm2-cpu.yaml"} <= names


def test_readme_shows_every_key_with_its_default():
    readme = (ROOT / "training" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- full-config -->\s*```yaml\n(.*?)```", readme, re.S)
    assert block, "training/README.md needs the complete config block"
    documented = yaml.safe_load(block.group(1))
    expected = defaults()
    expected["model"]["name"] = documented["model"]["name"]
    expected["data"]["train_file"] = documented["data"]["train_file"]
    assert documented == expected


def test_config_sections_are_frozen():
    config = parse_config(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.epochs = 3  # type: ignore[misc]


def test_pure_modules_do_not_import_torch():
    """Every module of training.spec (what the CLI imports); the job's entry until it trains."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import training.spec, training.rundir, training.cli, training.claim\n"
        "for m in pkgutil.iter_modules(training.spec.__path__, 'training.spec.'):\n"
        "    importlib.import_module(m.name)\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_validate_from_the_repo_root(example: Path):
    # `ftk run training/examples/<name>.yaml` from a fresh clone must pass local validation.
    from training.spec.validate import validate_config_file

    report = validate_config_file(example, ROOT)
    assert report.ok, report.to_dict()
