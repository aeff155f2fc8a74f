"""`ftk publish RUN --repo OWNER/NAME`: the run's adapter (or merged model) on the Hugging Face Hub,
with a model card generated from the run.

Everything goes through `huggingface_hub`: `create_repo(exist_ok=True)`, one `create_commit`, the
card built with `ModelCard`/`ModelCardData`. The token is the Hub's own (`HF_TOKEN`, else the
token `hf auth login` stored); it is handed to `HfApi` only, never printed, logged or written.
The Hub is `HF_ENDPOINT` when set (huggingface_hub's own variable).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.errors import AuthError, FtkError, UnavailableError, UsageError
from cli.ops.evaluate import RunFiles
from contract import layout

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
EVAL_FILE = "eval.json"  # what `ftk eval` leaves in the run folder


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    url: str
    commit_url: str
    files: list[str]
    merged: bool
    private: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "url": self.url,
            "commit_url": self.commit_url,
            "files": self.files,
            "merged": self.merged,
            "private": self.private,
        }


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise UsageError(
            f"{repo_id!r} is not a Hub repository id",
            hint="OWNER/NAME: letters, digits, '-', '_', '.' (e.g. my-org/phi3-support)",
        )
    return repo_id


def hub_token() -> str:
    """HF_TOKEN, else the token the Hub's own login stored; AuthError naming both when none."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise AuthError(
            "no Hugging Face token to publish with",
            hint="set HF_TOKEN (read from the environment, never a flag), or run `hf auth login`",
        )
    return token


def publish_run(
    run: RunFiles,
    repo_id: str,
    *,
    private: bool = False,
    merged: bool = False,
    base: str | None = None,
    project_dir: Path | None = None,
) -> PublishResult:
    """Create (or reuse) `repo_id` and commit the run's adapter or merged model plus its card."""
    check_repo_id(repo_id)
    token = hub_token()
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    with tempfile.TemporaryDirectory(prefix="ftk-publish-") as tmp:
        if merged:
            from cli.ops.export import export_run

            weights = Path(tmp) / "merged"
            export_run(run, "merged", weights, base=base)
            (weights / "export.json").unlink(missing_ok=True)
        else:
            weights = run.adapter
        files = {
            p.relative_to(weights).as_posix(): p for p in sorted(weights.rglob("*")) if p.is_file()
        }
        plot = run.root / layout.LOSS_PLOT_FILE
        if plot.is_file():
            files[layout.LOSS_PLOT_FILE] = plot
        card = model_card(run, repo_id, merged=merged, project_dir=project_dir)
        card_path = Path(tmp) / "README.md"
        card_path.write_text(card, encoding="utf-8")
        files["README.md"] = card_path
        api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.create_commit(
                repo_id,
                operations=[CommitOperationAdd(name, str(path)) for name, path in files.items()],
                commit_message=f"ftk publish {run.run_id} ({'merged' if merged else 'adapter'})",
            )
        except HfHubHTTPError as exc:
            raise _hub_error(exc, repo_id) from None
        except OSError as exc:  # connection refused, DNS, TLS
            raise UnavailableError(f"the Hugging Face Hub did not answer: {exc}") from None
    return PublishResult(repo_id, str(url), commit.commit_url, sorted(files), merged, private)


def _hub_error(exc: Any, repo_id: str) -> FtkError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return AuthError(
            f"the Hub refused the token for {repo_id} (HTTP {status})",
            hint="a token with write access to the owner: HF_TOKEN or `hf auth login`",
        )
    if status == 404:
        return FtkError(f"the Hub has no repository {repo_id} you can write to (HTTP 404)")
    return UnavailableError(f"the Hub answered HTTP {status} for {repo_id}")


# ---------------------------------------------------------------- the model card


def model_card(
    run: RunFiles, repo_id: str, *, merged: bool, project_dir: Path | None = None
) -> str:
    """The README.md: metadata the Hub reads (base model, library, tags) and what the run did."""
    from huggingface_hub import ModelCard, ModelCardData

    summary = _json(run.root / layout.SUMMARY_FILE)
    config_text = _text(run.root / layout.CONFIG_FILE)
    evaluation = _json(run.root / EVAL_FILE)
    base_id = hub_base_model(run.base_model, config_text)
    data = ModelCardData(
        base_model=base_id,
        library_name="transformers" if merged else "peft",
        pipeline_tag="text-generation",
        tags=["ftk", "lora", "sft", *(["merged"] if merged else ["peft"])],
        model_name=repo_id.split("/")[1],
    )
    what = "The base model with a LoRA adapter merged in" if merged else "A LoRA adapter"
    lines = [
        f"# {repo_id.split('/')[1]}",
        "",
        f"{what}, fine-tuned with [ftk](https://pypi.org/project/ftk/) (run `{run.run_id}`).",
        "",
        "## Base model",
        "",
        f"[{base_id}](https://huggingface.co/{base_id})" if base_id else f"`{run.base_model}`",
        "",
        "## Data",
        "",
        *_data_lines(run, summary, project_dir),
        "",
        "## Training",
        "",
        *_result_lines(summary),
    ]
    if config_text:
        lines += ["", "The training config (`config.yaml`):", "", "```yaml"]
        lines += [config_text.rstrip(), "```"]
    if evaluation:
        lines += ["", "## Evaluation (`ftk eval`)", "", *_eval_lines(evaluation)]
    if (run.root / layout.LOSS_PLOT_FILE).is_file():
        lines += ["", "## Loss", "", f"![training loss]({layout.LOSS_PLOT_FILE})"]
    lines += ["", "## Use", "", *_usage(repo_id, base_id or run.base_model, merged)]
    versions = summary.get("versions") or {}
    if versions:
        lines += ["", "## Framework versions", ""]
        lines += [f"- {name}: {version}" for name, version in sorted(versions.items())]
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"
    return str(ModelCard(content))


def hub_base_model(adapter_base: str, config_text: str) -> str | None:
    """The base model as a Hub id for the card's metadata: the adapter's record when it is one,
    else the run config's `model.name` (a catalog id resolves to its Hub id); None for a folder."""
    import yaml

    from training.spec import catalog, paths

    try:
        name = str(((yaml.safe_load(config_text) or {}).get("model") or {}).get("name") or "")
    except yaml.YAMLError:
        name = ""
    for candidate in (adapter_base, name):
        if not candidate or paths.looks_like_path(candidate) or Path(candidate).is_absolute():
            continue
        entry = catalog.find(candidate)
        if entry:
            return entry.hf_id
        if re.fullmatch(r"[\w.-]+/[\w.-]+", candidate):
            return candidate
    return None


def _data_lines(run: RunFiles, summary: dict[str, Any], project_dir: Path | None) -> list[str]:
    out = []
    if run.data is None:
        return ["(the run's config.yaml was not downloaded)"]
    counts = {
        "train": summary.get("train_examples"),
        "eval": summary.get("eval_examples") or None,
    }
    files = {"train": run.data.train_file, "eval": run.data.eval_file}
    for kind, name in files.items():
        if not name:
            continue
        size = _size(project_dir / name) if project_dir else None
        parts = [f"{counts[kind]} examples" if counts[kind] is not None else None, size]
        detail = ", ".join(p for p in parts if p)
        out.append(f"- {kind}: `{name}`" + (f" ({detail})" if detail else ""))
    if run.data.eval_split and not run.data.eval_file:
        out.append(f"- eval: {run.data.eval_split:.0%} of the training file held out")
    out.append(f"- format: {run.data.format}")
    return out


def _result_lines(summary: dict[str, Any]) -> list[str]:
    if not summary:
        return ["(the run's summary.json was not downloaded)"]
    rows = [
        ("steps", summary.get("steps")),
        ("epochs", summary.get("epochs")),
        ("tokens", summary.get("tokens")),
        ("final train loss", summary.get("train_loss")),
        ("final eval loss", summary.get("eval_loss")),
        ("device", summary.get("gpu") or summary.get("device")),
        ("precision", summary.get("precision")),
        ("quantization", summary.get("quantization")),
        ("trainable parameters", summary.get("trainable_parameters")),
    ]
    return ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows if v is not None]]


def _eval_lines(evaluation: dict[str, Any]) -> list[str]:
    name = Path(str(evaluation.get("data_file") or "the eval file")).name
    out = [f"On `{name}`:", "", "| model | exact match | mean loss |"]
    out.append("|---|---|---|")
    for key in ("base", "fine_tuned"):
        score = evaluation.get(key)
        if score:
            match = score.get("exact_match")
            shown = "-" if match is None else f"{match:.0%}"
            out.append(f"| {score.get('label', key)} | {shown} | {score.get('mean_loss')} |")
    return out


def _usage(repo_id: str, base: str, merged: bool) -> list[str]:
    if merged:
        code = [
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            f'model = AutoModelForCausalLM.from_pretrained("{repo_id}")',
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
        ]
    else:
        code = [
            "from peft import AutoPeftModelForCausalLM",
            "",
            f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}")  # loads {base}',
        ]
    return ["```python", *code, "```"]


def _json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _size(path: Path) -> str | None:
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size} bytes"
