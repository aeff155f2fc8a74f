"""ftk's training job: QLoRA supervised fine-tuning that survives timeouts.

Torch-free (`training.spec`, all the CLI may import): the config and its checks, data validation,
the catalog, the memory estimate, paths, the run lock. The job's own entry (`cli`, `claim`,
`clock`, `distributed`, `rundir`: no torch either) and the model code: `train` (entry
`main(config)`), `models` (`resolve_model`), `quant`, `lora`, ...
"""
