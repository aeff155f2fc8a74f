"""ftk's Pulumi program: one stack per environment (see docs/infra.md)."""

from stacks.outputs import export_outputs
from stacks.program import build
from stacks.reader import load_settings

# Config is read and validated before any resource is declared.
settings = load_settings()
# Resource group, storage + share, Log Analytics, GPU environment, fine-tuning job, inference app.
stack = build(settings)
# The output contract (contract/outputs.py); the API key only as a secret output.
export_outputs(stack)
