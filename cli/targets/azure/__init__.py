"""Azure, whatever runs the work: what any Azure target needs, with no Container Apps in it.

One injectable `AzureConnection` says where every SDK client points and how it retries
(`clients`); `errors` turns SDK exceptions into one-line `FtkError`s; `config` holds a
deployment's output-contract values, read from a Pulumi stack (`stack`, the Automation API) or
from the AI Toolkit's files (`infra_files`); `resources` holds one deployment's values,
connection, subscription and resource group; `storage` + `share` are the Azure Files share, its
account key fetched through ARM at use time; `log_analytics` runs a KQL query on the deployment's
Log Analytics workspace; `arm` makes the read-only ARM calls a target's checks need (identity,
subscription, providers, resource group, permissions, storage names).

The Azure Container Apps target (`cli.targets.aca`) is built on these; so would be an AKS or an
Azure ML one. Nothing here imports `cli.targets.aca` (an import contract in pyproject.toml).
"""
