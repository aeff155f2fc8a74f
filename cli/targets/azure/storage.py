"""The deployment's file share, with the storage account key fetched through ARM at use time."""

from __future__ import annotations

from cli.errors import NotFoundError
from cli.targets.azure.errors import azure_call
from cli.targets.azure.resources import AzureDeployment
from cli.targets.azure.share import AzureFileShare, share_client_factory
from contract import outputs as keys

KEY_ROLE = "Storage Account Key Operator Service Role (or Contributor)"


def open_share(deployment: AzureDeployment) -> AzureFileShare:
    config = deployment.config
    account = config.require(keys.STORAGE_ACCOUNT_NAME, purpose="for the share")
    share = config.require(keys.FILE_SHARE_NAME, purpose="for the share")
    connection = deployment.connection
    factory = share_client_factory(
        account_url=connection.storage_account_url(account),
        share_name=share,
        account_name=account,
        key_provider=lambda: account_key(deployment, account),
        transport_kwargs=connection.share_transport_kwargs,
    )
    return AzureFileShare(
        factory,
        label=f"file share '{share}' in storage account '{account}'",
        parallelism=connection.max_connections,
    )


def account_key(deployment: AzureDeployment, account: str) -> str:
    """The storage account key, fetched now through ARM; held only by the share client."""
    client = deployment.connection.storage_mgmt(deployment.subscription)
    with azure_call(f"keys of storage account '{account}'", role=KEY_ROLE):
        result = client.storage_accounts.list_keys(deployment.resource_group, account).as_dict()
    found = [k.get("value") for k in result.get("keys") or [] if k.get("value")]
    if not found:
        raise NotFoundError(f"storage account '{account}' returned no keys")
    return str(found[0])
