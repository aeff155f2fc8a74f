"""ftk's training job: QLoRA supervised fine-tuning that survives timeouts.

Pure parts (no torch): `config`, `dataset`, `validate`, `catalog`, `paths`, `rundir`.
Model code: `train` (entry `main(config)`), `models` (`resolve_model`), `quant`, `lora`, ...
"""
