"""An --infra job runs the AI Toolkit's command; ftk's executions need ftk's (claim a run
request, then train it). `JobCommand.ensure` changes the job's template command to ftk's once,
with a notice, keeping everything else of the template (image, resources, volumes, env, secret
references); later starts find it already there and change nothing.

The update is a GET, an edit of `properties.template`, and the jobs Update (PATCH) operation with
that whole template, as ftk's secret changes already do; that a PATCH keeps what it does not name
(the configuration's secrets, registries) is not yet verified against a live subscription (see
docs/azure.md). Start overrides are not used: an override replaces the whole template and drops
the share (see `job.py`).
"""

from __future__ import annotations

import copy
from typing import Any

from cli.targets.aca.deploy import with_env
from cli.targets.aca.resources import JOB_ROLE, Deployment
from cli.targets.azure.errors import azure_call
from contract import env as ftk_env
from contract.commands import JOB_COMMANDS, bash_script

RUN_COMMAND = ["bash", "-c", bash_script(JOB_COMMANDS)]


class JobCommand:
    def __init__(self, deployment: Deployment):
        self.deployment = deployment

    def ensure(self, job: dict[str, Any]) -> list[str]:
        """Make the job (as just read) run ftk's command; returns notices for the user (none if
        it already did)."""
        d = self.deployment
        template = copy.deepcopy((job.get("properties") or {}).get("template") or {})
        containers = template.get("containers") or []
        if containers and all(c.get("command") == RUN_COMMAND for c in containers):
            return []
        share_env = ftk_env.share_env(d.mount_path)
        for container in containers:
            container["command"] = list(RUN_COMMAND)
            container.pop("args", None)
            have = {e.get("name") for e in container.get("env") or []}
            missing = {k: v for k, v in share_env.items() if k not in have}
            container["env"] = with_env(list(container.get("env") or []), dict(missing))
        body: dict[str, Any] = {"properties": {"template": template}}
        with azure_call(d.job_label(), role=JOB_ROLE):
            d.apps.jobs.begin_update(d.resource_group, d.job_name, body).result()
        return [
            f"changed the command of job '{d.job_name}' to ftk's (`python -m training claim`), "
            "keeping its image, resources, volumes and secrets: its executions now train the runs "
            "`ftk run` requests (see docs/azure.md)"
        ]
