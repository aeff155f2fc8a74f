"""Find the base model and the adapters on disk, name them, and load them with transformers/peft.

`AdapterSpec.parse` reads `[NAME=]PATH`; without a name the adapter is called by its run id (the
parent folder when the folder is `runs/<run id>/adapter`): `contract.adapters`, the one copy of
that rule (`ftk deploy` names every adapter itself, so the rule is for paths given by hand and
apps deployed by an older ftk). Model ids go through the same model
cache as training (`training.models.resolve_model`), imported only when a model id is given.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.adapters import adapter_name, split_name

log = logging.getLogger("inference")


class ModelError(Exception):
    """A model or adapter the user named cannot be used; the message says why."""


@dataclass(frozen=True)
class AdapterSpec:
    name: str
    path: Path

    @classmethod
    def parse(cls, spec: str) -> AdapterSpec:
        name, raw = split_name(spec)
        path = Path(raw).expanduser()
        return cls(name or default_adapter_name(path), path)

    def validate(self) -> None:
        if not (self.path / "adapter_config.json").is_file():
            raise ModelError(
                f"adapter {self.name!r}: {self.path} is not a PEFT adapter folder "
                "(no adapter_config.json)"
            )


def default_adapter_name(path: Path) -> str:
    """The run id for `runs/<run>/adapter`, else the folder's own name (a relative path is read
    from the current folder)."""
    return adapter_name(Path(path).expanduser().absolute())


def parse_adapters(specs: list[str]) -> list[AdapterSpec]:
    adapters = [AdapterSpec.parse(s) for s in specs]
    names = [a.name for a in adapters]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        repeated = ", ".join(dupes)
        raise ModelError(f"adapter names must be unique, repeated: {repeated} (use NAME=PATH)")
    for adapter in adapters:
        adapter.validate()
    return adapters


def base_model_name(name_or_path: str) -> str:
    """What `/v1/models` calls the base: the model id, or a local folder's name."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.absolute().name
    return name_or_path


def resolve_base(name_or_path: str, cache_dir: Path) -> Path:
    """A local folder as is; a model id through the shared model cache."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"base model folder {path} has no config.json")
        return path
    if path.exists() or name_or_path.startswith((".", "/", "~")):
        raise ModelError(f"base model {name_or_path!r} is not a model folder")
    try:
        from training.models import resolve_model
    except ImportError as exc:
        raise ModelError(
            f"base model {name_or_path!r} is not a folder, and model ids need "
            f"training.models ({exc})"
        ) from exc
    try:
        return Path(resolve_model(name_or_path, cache_dir))
    except Exception as exc:
        raise ModelError(f"cannot resolve base model {name_or_path!r}: {exc}") from exc


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} asked for, but CUDA is not available")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    """`auto`: float32 on CPU; on CUDA bfloat16 from compute capability 8.0, else float16 (a T4's
    bf16 is emulated): `training.hardware.model_dtype`, which `ftk eval` uses too."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    from training.hardware import model_dtype

    return model_dtype(device)


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(
    path: Path, *, device: str, dtype: str = "auto", load_in_4bit: bool = False
) -> Any:
    """Full precision on CPU; 4-bit NF4 on CUDA when asked (falls back with a warning)."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if load_in_4bit and not device.startswith("cuda"):
        log.warning("--load-in-4bit needs CUDA; loading %s in full precision on %s", path, device)
        load_in_4bit = False
    if load_in_4bit and importlib.util.find_spec("bitsandbytes") is None:
        raise ModelError(
            "--load-in-4bit needs the bitsandbytes package, which is not installed here "
            "(it is in the serve extra and requirements-serve.txt)"
        )
    torch_dtype = pick_dtype(dtype, device)
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch_dtype,
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": device if ":" in device else f"{device}:0"}
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, **kwargs)
    if not load_in_4bit:
        model.to(device)
    model.eval()
    return model


def attach_adapters(model: Any, adapters: list[AdapterSpec]) -> Any:
    """Wrap `model` in a PeftModel holding every adapter under its name."""
    if not adapters:
        return model
    from peft import PeftModel

    first, *rest = adapters
    peft_model = PeftModel.from_pretrained(model, first.path, adapter_name=first.name)
    for adapter in rest:
        peft_model.load_adapter(adapter.path, adapter_name=adapter.name)
    peft_model.eval()
    return peft_model
