"""The sync engine: walk the workspace, diff it against the share's manifest, upload what changed.

It works on the `Share` protocol only, so the same code syncs to a local folder and to Azure Files.
"""

from cli.sync.engine import SyncPlan, SyncResult, plan_sync, run_sync, sync

__all__ = ["SyncPlan", "SyncResult", "plan_sync", "run_sync", "sync"]
