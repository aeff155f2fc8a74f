"""Tiny random-weight causal LMs with a real trained tokenizer and chat template, for tests.

Built in seconds on CPU, saved with `save_pretrained`, so every code path that loads a model from a
local folder (training, serving, merging, the CLI's --local flow) can run offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
SPECIAL_TOKENS = [
    "<pad>",
    "<s>",
    "</s>",
    "<unk>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Fine-tuning adapts a pretrained model to a task with a small dataset.",
    "positive negative neutral sentiment label answer question",
    "How do I deploy a model to Azure Container Apps with a GPU?",
    "The capital of France is Paris. The capital of Sweden is Stockholm.",
    "0 1 2 3 4 5 6 7 8 9 + - = yes no maybe",
] * 20


def build_tokenizer(out_dir: Path, vocab_size: int = 384):
    """Train a byte-level BPE tokenizer and save it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="<|end|>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def build_tiny_model(
    out_dir: Path, arch: str = "llama", seed: int = 0, *, tokenizer: Any = None, **overrides: Any
) -> Path:
    """Save a tiny `arch` ("llama" or "phi3") model plus tokenizer into `out_dir`: the tokenizer
    trained here unless `tokenizer` is given (saved as it is, e.g. a real model's), the tiny
    config with `overrides` (e.g. `tie_word_embeddings=True`)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Phi3Config

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if tokenizer is None:
        tokenizer = build_tokenizer(out_dir)
    else:
        tokenizer.save_pretrained(out_dir)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    common.update(overrides)
    if arch == "llama":
        config = LlamaConfig(**common)
    elif arch == "phi3":
        config = Phi3Config(**common)
    else:
        raise ValueError(f"unknown arch {arch!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out_dir)
    model.generation_config.save_pretrained(out_dir)
    return out_dir
