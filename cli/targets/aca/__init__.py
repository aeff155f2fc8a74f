"""The Azure Container Apps target: the fine-tuning job, its share and the inference app of one
deployment.

The deployment comes from a Pulumi stack's outputs or from the AI Toolkit's config files. ARM
goes through azure-mgmt-appcontainers, the share through azure-storage-file-share, history
through azure-monitor-query; the Azure-generic parts (connection, errors, config sources, the
share) are `cli.targets.azure`, which never imports this package.

Parts: `job` (executions) and `job_command` (an --infra job gets ftk's command), `job_logs` +
`logs` + `log_lines` (the log stream) and `log_history` (the KQL on Container Apps' log tables),
`app` + `deploy` (inference app), `secrets_stack` / `secrets_job` (secret stores), `resources`
(the names and client they share), `target` (the `Target` they make up); what the doctor and the
verbs ask of the platform: `doctor/` (checks, quota) and `pricing` (dated Container Apps prices).
"""

from cli.targets.aca.target import AzureTarget

__all__ = ["AzureTarget"]
