"""Training methods: supervised fine-tuning and preference tuning (no torch).

`train.method` picks TRL's trainer: `sft` (SFTTrainer, the default), `dpo` (DPOTrainer) or `orpo`
(ORPOTrainer, which TRL 1.16 ships under `trl.experimental.orpo`). Each method reads its own keys;
a key written for another method is an error that names the method it belongs to, so a config
never silently carries a knob the trainer ignores.
"""

from __future__ import annotations

from typing import Any

from training.spec.schema import ConfigError, TrainingConfig

SFT, DPO, ORPO = "sft", "dpo", "orpo"
PREFERENCE_METHODS = (DPO, ORPO)
# TRL's own defaults (DPOConfig.beta, ORPOConfig.beta: 0.1 in TRL 1.16), used when train.beta is
# null. DPO's beta scales the log-ratio against the reference; ORPO's is the weight (lambda) of
# the odds-ratio term beside the NLL of the chosen answer.
DEFAULT_BETA = 0.1
BETA_MAX = 10.0  # (0, 10]: the papers use 0.01 .. 1; larger only drowns the gradient
DEFAULT_LOSS_TYPE = "sigmoid"
LABEL_SMOOTHING_MAX = 0.5  # robust DPO: the probability a label is flipped, in [0, 0.5)

# key -> the methods that read it. A key counts as set when its value differs from the default:
# the config.yaml a run saves (`to_dict`) writes every key, at its default where unset.
METHOD_KEYS: dict[str, tuple[str, ...]] = {
    "train.packing": (SFT,),
    "data.format": (SFT,),
    "data.text_cols": (SFT,),
    "data.text_template": (SFT,),
    "data.completion_only_loss": (SFT,),
    "train.beta": (DPO, ORPO),
    "train.loss_type": (DPO,),
    "train.label_smoothing": (DPO,),
}
_DEFAULTS: dict[str, Any] = {
    "train.packing": False,
    "data.format": "auto",
    "data.text_cols": None,
    "data.text_template": None,
    "data.completion_only_loss": True,
    "train.beta": None,
    "train.loss_type": None,
    "train.label_smoothing": None,
}


def is_preference(config: TrainingConfig) -> bool:
    return config.train.method in PREFERENCE_METHODS


def beta(config: TrainingConfig) -> float:
    return DEFAULT_BETA if config.train.beta is None else config.train.beta


def loss_type(config: TrainingConfig) -> str:
    return config.train.loss_type or DEFAULT_LOSS_TYPE


def _value(config: TrainingConfig, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(config, section), key)


def check_method(config: TrainingConfig, lines: dict[str, int]) -> None:
    """Keys of another method, and the ranges of the preference knobs; raises `ConfigError`."""
    method = config.train.method
    for dotted, methods in METHOD_KEYS.items():
        if method in methods:
            continue
        if _value(config, dotted) == _DEFAULTS[dotted]:
            continue  # written out at its default (a saved config.yaml holds every key): harmless
        owners = " or ".join(methods)
        raise ConfigError(
            f"{dotted} is read only by train.method {owners}, and this config's method is "
            f"{method}: remove it",
            key=dotted,
            line=lines.get(dotted),
        )
    t = config.train
    if t.beta is not None and not 0.0 < t.beta <= BETA_MAX:
        raise ConfigError(
            f"train.beta must be in (0, {BETA_MAX:g}] (got {t.beta})",
            key="train.beta",
            line=lines.get("train.beta"),
        )
    if t.label_smoothing is not None:
        if not 0.0 <= t.label_smoothing < LABEL_SMOOTHING_MAX:
            raise ConfigError(
                f"train.label_smoothing must be in [0, {LABEL_SMOOTHING_MAX:g}) "
                f"(got {t.label_smoothing})",
                key="train.label_smoothing",
                line=lines.get("train.label_smoothing"),
            )
        if loss_type(config) != "robust":
            raise ConfigError(
                "train.label_smoothing is read only by train.loss_type: robust "
                f"(loss_type is {loss_type(config)})",
                key="train.label_smoothing",
                line=lines.get("train.label_smoothing"),
            )
