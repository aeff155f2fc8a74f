"""The CLI's layers, read from the source: the CLI never imports the stack, the targets import
nothing above them, and only the place that builds targets names `AzureTarget`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "cli"
ABOVE_TARGETS = ("cli.ops", "cli.sync", "cli.doctor", "cli.commands", "cli.app", "cli.main")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_nothing_under_cli_imports_the_stack() -> None:
    found = {
        str(p.relative_to(ROOT)): name
        for p in _files(CLI)
        for name in _imports(p)
        if name == "stacks" or name.startswith("stacks.")
    }
    assert found == {}, "the CLI reads the GPU table, names and keys from contract/, never stacks/"


def test_the_targets_import_nothing_above_them() -> None:
    found = {
        str(p.relative_to(ROOT)): name
        for p in _files(CLI / "targets")
        for name in _imports(p)
        if name.startswith(ABOVE_TARGETS)
    }
    assert found == {}, "cli/targets/ sits below ops, sync, doctor and commands"


def test_only_the_app_names_the_azure_target_outside_cli_targets() -> None:
    found = [
        str(p.relative_to(ROOT))
        for p in _files(CLI)
        if "AzureTarget" in p.read_text() and (CLI / "targets") not in p.parents
    ]
    assert found == ["cli/app.py"]
