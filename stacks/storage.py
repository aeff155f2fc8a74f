"""The storage account and the Azure Files share the job and the app mount (created or existing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.storage as storage

from stacks.component import FtkComponent


@dataclass(frozen=True)
class StorageArgs:
    """What the storage component needs from the stack."""

    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    account_name: str
    share_name: str
    existing_account: bool
    existing_share: bool
    sku: str
    share_quota_gib: int
    soft_delete_days: int
    tags: Mapping[str, str]


class Storage(FtkComponent):
    """StorageV2 account (HTTPS only, TLS 1.2, no public blob access) and one SMB share.

    An existing account or share is read with a get function and never managed: no resource
    is registered for it, so `pulumi destroy` cannot delete it.
    """

    account_name: pulumi.Output[str]
    share_name: pulumi.Output[str]
    account_key: pulumi.Output[str]  # secret

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("Storage", name, opts)
        rg = args.resource_group_name
        file_service: list[pulumi.Resource] = []
        if args.existing_account:
            found = storage.get_storage_account_output(
                account_name=args.account_name, resource_group_name=rg
            )
            self.account_name = found.name
        else:
            account, service = self._create_account(name, args)
            self.account_name, file_service = account.name, [service]

        if args.existing_share:
            self.share_name = storage.get_file_share_output(
                account_name=self.account_name, share_name=args.share_name, resource_group_name=rg
            ).name
        else:
            self.share_name = storage.FileShare(
                f"{name}-share",
                account_name=self.account_name,
                resource_group_name=rg,
                share_name=args.share_name,
                share_quota=args.share_quota_gib,
                enabled_protocols=storage.EnabledProtocols.SMB,
                opts=self._child(depends_on=file_service),
            ).name

        keys = storage.list_storage_account_keys_output(
            account_name=self.account_name, resource_group_name=rg
        )
        self.account_key = pulumi.Output.secret(keys.keys[0].value)
        self.register_outputs(
            {
                "account_name": self.account_name,
                "share_name": self.share_name,
                "account_key": self.account_key,
            }
        )

    def _create_account(
        self, name: str, args: StorageArgs
    ) -> tuple[storage.StorageAccount, storage.FileServiceProperties]:
        account = storage.StorageAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=args.sku),
            large_file_shares_state=storage.LargeFileSharesState.ENABLED,
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            # The ACA Azure Files mount authenticates with the account key.
            allow_shared_key_access=True,
            tags=dict(args.tags),
            opts=self._child(),
        )
        # Share soft delete: a deleted share can be restored for `soft_delete_days`.
        service = storage.FileServiceProperties(
            f"{name}-file-service",
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            file_services_name="default",
            share_delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=args.soft_delete_days
            ),
            opts=self._child(),
        )
        return account, service
