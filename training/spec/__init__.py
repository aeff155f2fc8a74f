"""The torch-free half of training: what a run is and whether it can run.

The config (`schema`, `config_checks`, `config`, `methods`, `yamlfile`), its data checked
without loading it (`dataset`, `preference_data`, `validate`), the model catalog (`catalog`),
the memory estimate (`memory`), where things are (`paths`), the run's lock (`runlock`) and the
errors a user can fix (`errors`). The standard library, PyYAML and `contract` only (and
tokenizers, when installed, for exact token counts in validation): this is all of `training` the
CLI may import, and nothing here imports the rest of `training` (import contracts in
pyproject.toml).
"""
