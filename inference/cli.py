"""`python -m inference serve|merge`: flags built from the settings fields, so each is listed once.

A flag overrides its env variable, which overrides the default. User errors (a missing model, a
bad flag value) print one line and exit 2; a model that fails to load exits 1
(`contract.exit_codes.ExitCode`, the vocabulary `ftk` and the trainer use too).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from contract.exit_codes import ExitCode
from inference.models import ModelError
from inference.settings import MergeSettings, ServerSettings

_METAVARS = {"base": "MODEL", "adapter": "[NAME=]PATH", "model_cache": "DIR", "out": "DIR"}


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def add_settings_flags(
    parser: argparse.ArgumentParser,
    settings_cls: type[BaseSettings],
    metavars: dict[str, str] | None = None,
) -> None:
    """One `--field-name` flag per settings field, typed and documented from the field."""
    metavars = {**_METAVARS, **(metavars or {})}
    for name, info in settings_cls.model_fields.items():
        if info.exclude:
            continue
        annotation = _strip_optional(info.annotation)
        env = info.validation_alias if isinstance(info.validation_alias, str) else None
        env = env or f"FTK_{name.upper()}"
        value = None if info.is_required() else info.get_default(call_default_factory=True)
        where = [] if info.is_required() else [f"env {env}"]
        if value not in (None, []):
            where.append(f"default {value!r}")
        suffix = f" ({', '.join(where)})" if where else ""
        kwargs: dict[str, Any] = {
            "dest": name,
            "default": None,
            "help": f"{info.description}{suffix}",
            "required": info.is_required(),
        }
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs.pop("required")
        elif typing.get_origin(annotation) is list:
            kwargs.update(action="append", metavar=metavars.get(name, "VALUE"))
        elif typing.get_origin(annotation) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(annotation))
        else:
            kwargs["type"] = annotation if annotation in (int, float, Path) else str
            kwargs["metavar"] = metavars.get(name, name.upper())
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inference",
        description="Serve a base model and its LoRA adapters (OpenAI API + chat UI), or merge.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="OpenAI-compatible server with a chat UI at /.",
        description="Serve a base model and its LoRA adapters: OpenAI-compatible /v1 API, chat "
        "UI at /, /health and /ready. Flags override env variables, which override defaults.",
    )
    add_settings_flags(serve, ServerSettings)
    merge = commands.add_parser(
        "merge",
        help="Merge an adapter into its base (plain safetensors).",
        description="Fold a LoRA adapter into its base model and save full-precision "
        "safetensors plus the tokenizer, loadable without peft.",
    )
    add_settings_flags(merge, MergeSettings, metavars={"adapter": "PATH"})
    return parser


def _settings(settings_cls: type[BaseSettings], args: argparse.Namespace) -> Any:
    given = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    return settings_cls(**given)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return ExitCode.USAGE


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from inference.serve import serve

            return serve(_settings(ServerSettings, args))
        from inference.merge import merge

        out = merge(_settings(MergeSettings, args))
        print(out)
        return ExitCode.OK
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        return _fail(f"{where}: {first['msg']}")
    except ModelError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
