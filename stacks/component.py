"""The base every ftk component shares: its type token and the one way to parent a child."""

from __future__ import annotations

import pulumi


class FtkComponent(pulumi.ComponentResource):
    """A ComponentResource typed `ftk:azure:<Type>`, whose children all hang under it."""

    def __init__(self, type_name: str, name: str, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(f"ftk:azure:{type_name}", name, {}, opts)

    def _child(self, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a child resource: parented here (plus e.g. `depends_on`)."""
        return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]
