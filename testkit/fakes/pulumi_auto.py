"""A stand-in for the slice of `pulumi.automation` that `cli.targets.azure.stack` uses
(the Pulumi CLI cannot run here). Install it with
`monkeypatch.setattr(stack_outputs, "_automation", lambda: FakeAuto(outputs))`."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any


class StackNotFoundError(Exception):
    pass


class CommandError(Exception):
    pass


class FakeAuto:
    """The slice of `pulumi.automation` that `PulumiStack` uses."""

    errors = SimpleNamespace(StackNotFoundError=StackNotFoundError, CommandError=CommandError)

    def __init__(self, outputs: dict[str, Any], *, selected: str | None = "dev", cli: bool = True):
        self.outputs = outputs
        self.selected = selected
        self.cli = cli
        self.config: dict[tuple[str, bool], Any] = {}
        self.ups = 0
        auto = self

        class LocalWorkspace:
            def __init__(self, work_dir: str):
                if not auto.cli:
                    raise FileNotFoundError("pulumi")

            def stack(self) -> Any:
                return SimpleNamespace(name=auto.selected) if auto.selected else None

        class Stack:
            @staticmethod
            def select(name: str, workspace: Any) -> Any:
                if name not in ("dev", "prod"):
                    raise StackNotFoundError(name)
                return FakeStackObject(name, auto)

        self.LocalWorkspace = LocalWorkspace
        self.Stack = Stack

    @staticmethod
    def ConfigValue(value: str, secret: bool = False) -> Any:
        return SimpleNamespace(value=value, secret=secret)


class FakeStackObject:
    def __init__(self, name: str, auto: FakeAuto):
        self.name = name
        self.auto = auto

    def outputs(self) -> dict[str, Any]:
        return {
            k: SimpleNamespace(value=v, secret=k == "ACA_APP_API_KEY")
            for k, v in self.auto.outputs.items()
        }

    def set_config(self, key: str, value: Any, *, path: bool = False) -> None:
        self.auto.config[(key, path)] = value

    def remove_config(self, key: str, *, path: bool = False) -> None:
        del self.auto.config[(key, path)]

    def up(self, on_output: Any = None) -> None:
        self.auto.ups += 1

    def get_all_config(self) -> dict[str, Any]:
        names = {k.split(".", 1)[1]: "[secret]" for k, _ in self.auto.config}
        return {"ftk:jobSecrets": SimpleNamespace(value=json.dumps(names), secret=True)}
