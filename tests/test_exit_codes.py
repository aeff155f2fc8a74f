"""One exit-code vocabulary (`contract.exit_codes.ExitCode`) for `ftk`, the trainer, the inference
server, the vLLM launcher, bootstrap and the local runner; users' CI scripts read these numbers."""

from __future__ import annotations

import ast
from pathlib import Path

from contract.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[1]
# The shipped packages, and testkit's stand-ins for them.
PACKAGES = ("bootstrap", "cli", "contract", "stacks", "training", "inference", "testkit/fakes")
# Functions whose int result is a process's exit code.
ENTRY_FUNCTIONS = {"main", "run", "serve", "_fail", "_validate", "_train", "_launch"}


def test_the_numbers_scripts_read_never_change():
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "USAGE": 2,
        "NOT_FOUND": 3,
        "AUTH": 4,
        "UNAVAILABLE": 5,
        "RESUMABLE": 75,
        "NOT_STARTED": 127,
        "INTERRUPTED": 130,
    }


def test_the_cli_errors_carry_the_contracts_codes():
    from cli import errors

    assert errors.ExitCode is ExitCode
    assert errors.FtkError("x").exit_code == ExitCode.FAILED
    assert errors.UsageError("x").exit_code == ExitCode.USAGE
    assert errors.NotFoundError("x").exit_code == ExitCode.NOT_FOUND
    assert errors.AuthError("x").exit_code == ExitCode.AUTH
    assert errors.UnavailableError("x").exit_code == ExitCode.UNAVAILABLE


def _bare_exit_codes(path: Path) -> list[str]:
    """`sys.exit(N)`, `SystemExit(N)` and an entry function's `return N` with N a literal."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = ast.unparse(node.func)
            arg = node.args[0]
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, int)
            if func in ("sys.exit", "SystemExit", "exit") and literal:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.FunctionDef) and node.name in ENTRY_FUNCTIONS:
            if node.returns is None or ast.unparse(node.returns) != "int":
                continue
            for inner in ast.walk(node):
                if not isinstance(inner, ast.Return):
                    continue
                value = inner.value
                if isinstance(value, ast.Constant) and isinstance(value.value, int):
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {ast.unparse(inner)}")
    return found


def test_every_entry_point_exits_with_a_named_code():
    """A bare number is a second vocabulary in waiting: each exit says which `ExitCode` it is."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found += _bare_exit_codes(path)
    assert found == []
