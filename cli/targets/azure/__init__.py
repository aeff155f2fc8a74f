"""The Azure target: the fine-tuning job, its share and the inference app of one deployment.

The deployment comes from a Pulumi stack's outputs or from the AI Toolkit's config files. ARM
goes through azure-mgmt-appcontainers, the share through azure-storage-file-share with the
account key fetched at use time, history through azure-monitor-query; all clients come from one
injectable `AzureConnection` (`clients.py`).

Parts: `resources` (names, ARM client), `job` (executions), `job_logs` + `logs` (log stream,
Log Analytics), `storage` + `share` (Azure Files), `app` (inference app), `secrets_stack` /
`secrets_job` (secret stores), `target` (the `Target` they make up); what the doctor and the verbs
ask of Azure itself: `doctor/` (checks, quota) and `pricing` (dated prices).
"""

from cli.targets.azure.target import AzureTarget

__all__ = ["AzureTarget"]
