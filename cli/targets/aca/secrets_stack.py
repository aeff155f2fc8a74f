"""Job secrets kept in a Pulumi stack's config (`jobSecrets.NAME`, a Pulumi secret); `pulumi up`
puts them on the job, so `--apply` runs it."""

from __future__ import annotations

from cli.errors import NotFoundError
from cli.targets.aca.resources import Deployment
from cli.targets.aca.secrets_job import checked_aca_name, job_secret_env_names
from cli.targets.azure.stack import PulumiStack


class StackSecretStore:
    """`SecretStore` over the stack's config; lists what the deployed job has as well."""

    stores_values = True
    can_apply = True

    def __init__(self, stack: PulumiStack, deployment: Deployment):
        self.stack = stack
        self.deployment = deployment

    def names(self) -> list[str]:
        names = set(self.stack.secret_names())
        if self.stack.has_outputs():  # before the first `pulumi up` there is no job to read
            names |= job_secret_env_names(self.deployment)
        return sorted(names)

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        checked_aca_name(name)
        self.stack.set_secret(name, value)
        return self._done(f"stored {name} in stack '{self.stack.name}'", apply)

    def remove(self, name: str, *, apply: bool = False) -> str:
        checked_aca_name(name)
        if name not in self.stack.secret_names():
            raise NotFoundError(f"stack '{self.stack.name}' has no job secret {name}")
        self.stack.remove_secret(name)
        return self._done(f"removed {name} from stack '{self.stack.name}'", apply)

    def unavailable(self) -> list[str]:
        return []

    def _done(self, done: str, apply: bool) -> str:
        if apply:
            self.stack.up()
            return f"{done} and applied it with `pulumi up`"
        return (
            f"{done} as a Pulumi secret (jobSecrets); run `pulumi up --stack "
            f"{self.stack.name}` to apply it to the job"
        )
