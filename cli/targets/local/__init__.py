"""`--local`: the whole loop on this machine, no Azure.

- share: `<project>/.ftk/local/share/` (a folder; writes are atomic) -- `share.py`;
- processes: one `Supervisor` (`supervisor.py`) spawns detached runners (`runner.py`), knows each
  process by pid and start time, signals, reaps, and keeps state files any shell can read;
- executions: `python -m training` from the share, as the job runs it -- `executions.py`;
- endpoint: `python -m inference serve` on a free loopback port -- `endpoint.py`;
- secrets: names only, values come from the user's environment -- `secrets.py`;
- `LocalTarget` (`target.py`) puts them together behind the `Target` protocol.

The package imports its parts lazily: the runner imports `supervisor.py` without the CLI's stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cli.targets.local.endpoint import ServeSpec, default_serve_command
    from cli.targets.local.executions import default_train_command
    from cli.targets.local.target import LocalTarget, default_model_cache

__all__ = [
    "LocalTarget",
    "ServeSpec",
    "default_model_cache",
    "default_serve_command",
    "default_train_command",
]

_HOMES = {
    "LocalTarget": "target",
    "default_model_cache": "target",
    "ServeSpec": "endpoint",
    "default_serve_command": "endpoint",
    "default_train_command": "executions",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(name)
