"""A Pulumi stack seen through the Automation API: its outputs, its job-secret config, `up`.

Every Pulumi failure a user can cause (no CLI, no project, no stack selected, unknown stack,
not logged in, no outputs yet) becomes one FtkError with the command that fixes it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from cli.errors import FtkError, NotFoundError, UsageError
from cli.targets.azure.config import TargetConfig

SECRETS_KEY = "jobSecrets"
PULUMI_TIMEOUT_S = 300  # a `pulumi config set` against a remote backend (or a slow KMS)


def _automation() -> ModuleType:
    """`pulumi.automation`, imported on use (tests replace this function)."""
    from pulumi import automation

    return automation


def _first_error_line(exc: BaseException) -> str:
    text = str(getattr(exc, "stderr", "") or exc)
    for line in text.splitlines():
        at = line.lower().find("error:")
        if at >= 0:
            return line[at + 6 :].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class PulumiStack:
    """One selected stack of the project in `project_dir`."""

    def __init__(self, stack: Any, auto: ModuleType, project_dir: Path):
        self._stack = stack
        self._auto = auto
        self.project_dir = project_dir
        self.name: str = stack.name

    @classmethod
    def open(cls, project_dir: Path, name: str | None) -> PulumiStack:
        auto = _automation()
        if not any((project_dir / f).exists() for f in ("Pulumi.yaml", "Pulumi.yml")):
            raise UsageError(
                f"no Pulumi project in {project_dir} (no Pulumi.yaml)",
                hint="run ftk from the project folder, or use --infra FILE or --local",
            )
        try:
            workspace = auto.LocalWorkspace(work_dir=str(project_dir))
        except FileNotFoundError:
            raise UsageError(
                "the Pulumi CLI is not installed (or not on PATH)",
                hint="install it (https://www.pulumi.com/docs/iac/download-install/), "
                "or use --infra FILE or --local",
            ) from None
        with _pulumi_errors(auto, name):
            if name is None:
                summary = workspace.stack()
                if summary is None:
                    raise UsageError(
                        "no Pulumi stack is selected",
                        hint="run `pulumi stack select NAME`, or pass --stack NAME",
                    )
                name = summary.name
            stack = auto.Stack.select(name, workspace)
        return cls(stack, auto, project_dir)

    @cached_property
    def _outputs(self) -> dict[str, Any]:
        with _pulumi_errors(self._auto, self.name):
            return dict(self._stack.outputs())

    def has_outputs(self) -> bool:
        """False until the first `pulumi up`; the config (job secrets) exists before that."""
        return bool(self._outputs)

    def config(self) -> TargetConfig:
        outputs = self._outputs
        if not outputs:
            raise NotFoundError(
                f"stack '{self.name}' has no outputs yet", hint="run `pulumi up` first"
            )
        values = {k: v.value for k, v in outputs.items() if not getattr(v, "secret", False)}
        secrets = {k: v.value for k, v in outputs.items() if getattr(v, "secret", False)}
        return TargetConfig(
            origin=f"stack '{self.name}'", values=values, secrets=secrets, from_stack=True
        )

    def secret_names(self) -> list[str]:
        """Names under `jobSecrets` in the stack config (values are never kept)."""
        with _pulumi_errors(self._auto, self.name):
            config = self._stack.get_all_config()
        for key, value in config.items():
            if key.split(":", 1)[-1] == SECRETS_KEY:
                try:
                    data = json.loads(value.value)
                except (TypeError, ValueError):
                    return []
                return sorted(data) if isinstance(data, dict) else []
        return []

    def config_values(self) -> dict[str, str]:
        """The stack's plain config (`project:key` -> value); secret values are left out."""
        with _pulumi_errors(self._auto, self.name):
            config = self._stack.get_all_config()
        return {k: str(v.value) for k, v in config.items() if not getattr(v, "secret", False)}

    def set_secret(self, name: str, value: str) -> None:
        """`pulumi config set --secret --path jobSecrets.NAME` with the value on stdin.

        Never through the Automation API's `set_config`: it passes the value as a process
        argument, which any local user sees in `ps`. With no value argument and a stdin that is
        not a terminal, `pulumi config set` reads the value from stdin and drops one trailing
        newline (pulumi/pulumi pkg/cmd/pulumi/config/config_set.go, `case
        !term.IsTerminal(...)`: `io.ReadAll(cmd.Stdin)`, commit b42d45245ef0, read 2026-12-01).
        """
        exe = shutil.which("pulumi")
        if exe is None:
            raise UsageError(
                "the Pulumi CLI is not installed (or not on PATH)",
                hint="install it, or use --infra FILE or --local",
            )
        argv = [exe, "--non-interactive", "config", "set", "--secret", "--path"]
        argv += ["--stack", self.name, f"{SECRETS_KEY}.{name}"]
        try:
            done = subprocess.run(
                argv,
                input=value,
                text=True,
                capture_output=True,
                cwd=self.project_dir,
                timeout=PULUMI_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise FtkError(
                f"`pulumi config set` did not finish in {PULUMI_TIMEOUT_S}s",
                hint="check `pulumi whoami` and the stack's secrets provider",
            ) from None
        if done.returncode != 0:
            reason = _first_error_line(_Failed(done.stderr or done.stdout or ""))
            raise FtkError(
                f"pulumi config set failed: {reason.replace(value, '***')}",
                hint="run `pulumi login` if logged out; set PULUMI_CONFIG_PASSPHRASE for a "
                "passphrase-encrypted stack",
            )

    def remove_secret(self, name: str) -> None:
        with _pulumi_errors(self._auto, self.name):
            self._stack.remove_config(f"{SECRETS_KEY}.{name}", path=True)

    def up(self, on_output: Callable[[str], None] | None = None) -> None:
        with _pulumi_errors(self._auto, self.name):
            self._stack.up(on_output=on_output)


class _Failed(Exception):
    def __init__(self, stderr: str):
        super().__init__(stderr)
        self.stderr = stderr


class _pulumi_errors:
    """Map Automation API exceptions to FtkErrors (a class, so it stays import-light)."""

    def __init__(self, auto: ModuleType, stack: str | None):
        self.auto = auto
        self.stack = stack

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, FtkError):
            return False
        errors = getattr(self.auto, "errors", None)
        not_found = getattr(errors, "StackNotFoundError", ())
        command = getattr(errors, "CommandError", ())
        if not_found and isinstance(exc, not_found):
            raise NotFoundError(
                f"Pulumi stack '{self.stack}' does not exist",
                hint="see `pulumi stack ls`; create one with `pulumi stack init NAME`",
            ) from None
        if isinstance(exc, FileNotFoundError):
            raise UsageError(
                "the Pulumi CLI is not installed (or not on PATH)",
                hint="install it, or use --infra FILE or --local",
            ) from None
        if command and isinstance(exc, command):
            raise FtkError(
                f"pulumi failed: {_first_error_line(exc)}",
                hint="run `pulumi login` if logged out; set PULUMI_CONFIG_PASSPHRASE for a "
                "passphrase-encrypted stack; FTK_DEBUG=1 shows the details",
            ) from None
        return False
