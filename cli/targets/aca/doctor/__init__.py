"""`ftk doctor`'s Azure part, and the GPU quota `ftk sweep --parallel` reads: the Azure target's
own knowledge of its platform, reached through `AzureTarget.checks()` and `gpu_room()`.

`arm` makes the read-only Container Apps calls (the Azure-generic ones are
`cli.targets.azure.arm`), `deployment` says what the target knows of its deployment
(deployed or not yet), `azure_checks` and `access_checks` are the checks, `checks` runs them in
a fixed order, `capacity` counts free serverless GPUs.
"""
