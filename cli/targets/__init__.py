"""Where ftk's verbs act: a Pulumi stack's resources, AI Toolkit config files, or a local folder."""

# TEMPORARY, until the targets-local branch lands (see the module's docstring).
from cli.targets import _local_shim  # noqa: F401
