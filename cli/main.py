"""`ftk`: the root command group. Subcommands are imported only when they are called or listed.

Global options pick the target (`--local`, `--infra FILE`, `--stack NAME`) and the project folder;
errors become one line with a hint and an exit code (`cli.errors.ExitCode`), or a traceback with
`--debug` / `FTK_DEBUG=1`.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from cli.app import App
from cli.errors import ExitCode, FtkError, debug_enabled

COMMANDS: dict[str, str] = {
    "sync": "cli.commands.sync.sync",
    "run": "cli.commands.run.run",
    "resume": "cli.commands.run.resume",
    "sweep": "cli.commands.sweep.sweep",
    "ps": "cli.commands.ps.ps",
    "stop": "cli.commands.stop.stop",
    "cache": "cli.commands.cache.cache",
    "logs": "cli.commands.logs.logs",
    "secret": "cli.commands.secret.secret",
    "download": "cli.commands.download.download",
    "outputs": "cli.commands.outputs.outputs",
    "deploy": "cli.commands.deploy.deploy",
    "endpoint": "cli.commands.endpoint.endpoint",
    "chat": "cli.commands.chat.chat",
    "ui": "cli.commands.ui.ui",
    "eval": "cli.commands.eval.eval_",
    "export": "cli.commands.export.export",
    "publish": "cli.commands.publish.publish",
    "quickstart": "cli.commands.quickstart.quickstart",
    "doctor": "cli.commands.doctor.doctor",
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on demand (click docs, "complex")."""

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            module_name, attr = self.lazy_subcommands[cmd_name].rsplit(".", 1)
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        debug = debug_enabled() or bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except FtkError as exc:
            if debug:
                traceback.print_exc()
            if isinstance(ctx.obj, App) and ctx.obj.as_json:
                from cli.console import emit_json

                emit_json(exc.to_dict())
            raise
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            raise FtkError("interrupted", code=ExitCode.INTERRUPTED) from None
        except Exception as exc:
            if debug:
                raise
            raise FtkError(
                f"unexpected error: {type(exc).__name__}: {exc}",
                hint="run again with --debug (or FTK_DEBUG=1) for the traceback",
            ) from exc


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS, context_settings={"max_content_width": 100})
@click.option("--local", is_flag=True, help="Work on this machine: no Azure (state in .ftk/local).")
@click.option(
    "--infra",
    "infra_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="AI Toolkit config file (infra/*.config.json) naming existing resources. Repeatable.",
)
@click.option("--stack", metavar="NAME", help="Pulumi stack to read (default: the selected one).")
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The project (workspace) folder.",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for more).")
@click.option("--debug", is_flag=True, envvar="FTK_DEBUG", help="Show tracebacks (or FTK_DEBUG=1).")
@click.version_option(package_name="ftk", prog_name="ftk")
@click.pass_context
def cli(
    ctx: click.Context,
    local: bool,
    infra_files: tuple[Path, ...],
    stack: str | None,
    project_dir: Path,
    verbose: int,
    debug: bool,
) -> None:
    """Fine-tune small language models on Azure Container Apps GPUs, and serve them.

    Pick where to act with --local, --infra FILE or --stack NAME (default: the selected Pulumi
    stack of the project). Exit codes: 0 ok, 1 failed, 2 usage/config, 3 not found, 4 auth,
    5 unavailable, 130 interrupted.
    """
    if verbose:
        import logging

        level = logging.INFO if verbose == 1 else logging.DEBUG
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    if isinstance(ctx.obj, App):
        return  # a caller (tests) chose the App and its target already
    for f in infra_files:
        if not f.is_file():
            raise click.BadParameter(f"no such file: {f}", param_hint="--infra")
    ctx.obj = App(
        project_dir=project_dir.resolve(),
        local=local,
        infra_files=tuple(f.resolve() for f in infra_files),
        stack=stack,
        verbose=verbose,
        debug=debug,
    )


def main() -> None:
    cli.main(prog_name="ftk")


if __name__ == "__main__":
    main()  # click exits with the command's code
