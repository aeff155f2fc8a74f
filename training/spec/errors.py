"""Errors a user can cause and fix (bad config, data, model or device choice): exit code 2."""

from __future__ import annotations


class UserError(RuntimeError):
    """One clear message, shown without a traceback; the run exits with code 2."""
