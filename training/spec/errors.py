"""Errors a user can cause and fix: a bad config (`ConfigError`, `YamlFileError`), bad data
(`DataError`, preference pairs included; `EvalDataError`), a model that cannot be found
(`ModelNotFoundError`) or a model folder or device that cannot run the config (`UserError` itself).

All of them are `UserError`, and `training.cli.run` (the entry of `python -m training`) maps that
one class, once, to `ExitCode.USAGE` (2): one line on stderr, no traceback, `status` `failed`.
Standard library only: the CLI imports the torch-free half of training, which raises these.
"""

from __future__ import annotations


class UserError(Exception):
    """One clear message, shown without a traceback; the run exits with code 2."""
