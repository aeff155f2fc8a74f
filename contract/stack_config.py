"""The stack's config keys as one table, and the one reader of their raw values.

Every key ftk's Pulumi program reads lives in the project namespace (`pulumi config set
gpuProfile ...` writes `ftk:gpuProfile`) and is one `Key` row below: its kind, its default, its
bounds or choices, whether it is secret, and the description `Pulumi.yaml` carries. Each fixed
default is written here and only here. A default that depends on other keys (`cpu` from the GPU
profile, `inferenceEngine` from its GPU, the names from project and stack) is `None` here and
computed by the stack (`stacks.reader`); the row's description says how.

`StackConfig` turns raw strings into typed values by the table, or raises an error that names the
key, the value and the rule. The stack reads its `pulumi.Config` through it (`stacks.reader`),
and `ftk doctor` reads a stack's config (before or after `pulumi up`) through the same reader, so
the two cannot disagree on a default or a rule. `Pulumi.yaml` and the README's stack config
reference are checked against this table by tests/stacks/test_stack_files.py.

Standard library only: `bootstrap.refresh` reads the default image's torch version from here.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from contract.commands import JOB_COMMANDS
from contract.engines import ENGINES
from contract.gpus import GPU_PROFILES
from contract.outputs import DEFAULT_MOUNT_PATH

# Kinds of value, as `Pulumi.yaml` names them in each description's "(kind)" prefix.
STRING: Final = "string"
CHOICE: Final = "choice"  # a string from `choices`
BOOLEAN: Final = "boolean"
INTEGER: Final = "integer"  # a whole number from `lo` to `hi`
NUMBER: Final = "number"
LIST: Final = "list"  # of non-empty strings, JSON (Pulumi hands structured values over as JSON)
OBJECT: Final = "object"  # of string: string, JSON

_TYPE_TEXT: Final = {CHOICE: "string", LIST: "list of strings"}

STORAGE_SKUS: Final = (
    "Standard_LRS",
    "Standard_ZRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
)
# ACA probe limits: initialDelaySeconds <= 60, periodSeconds <= 240, failureThreshold <= 10.
PROBE_MAX_DELAY: Final = 60
PROBE_MAX_PERIOD: Final = 240
PROBE_MAX_FAILURES: Final = 10


@dataclass(frozen=True)
class Key:
    """One config key: what it holds, its default and its rule."""

    name: str
    kind: str
    description: str  # Pulumi.yaml's, after the "(kind)" prefix
    default: str | int | bool | tuple[str, ...] | None = None  # None: none, or computed
    lo: int | None = None  # INTEGER bounds (the stack may narrow `hi`, e.g. to another key)
    hi: int | None = None
    unit: str = ""  # " of seconds": in the rule's words
    choices: tuple[str, ...] = ()
    secret: bool = False

    @property
    def type_text(self) -> str:
        """The kind as Pulumi.yaml's descriptions name it: "(integer)", "(secret object)"."""
        kind = _TYPE_TEXT.get(self.kind, self.kind)
        return f"secret {kind}" if self.secret else kind

    def pulumi_yaml(self) -> dict[str, Any]:
        """This key's entry under `template.config` in Pulumi.yaml (no default: one there would
        be a second copy, and a declared key without a default becomes required)."""
        entry: dict[str, Any] = {"description": f"({self.type_text}) {self.description}"}
        if self.secret:
            entry["secret"] = True
        return entry


class NameKey(NamedTuple):
    """One resource name the user may set (and, for most, reference instead of create)."""

    key: str  # config key of the name
    kind: str  # its rule in naming.RULES
    field: str  # the StackNames / Existing field
    existing_key: str | None  # config key of the "reference an existing one" flag


NAME_KEYS: Final = (
    NameKey("resourceGroupName", "resourceGroup", "resource_group", "existingResourceGroup"),
    NameKey("storageAccountName", "storageAccount", "storage_account", "existingStorageAccount"),
    NameKey("fileShareName", "fileShare", "file_share", "existingFileShare"),
    NameKey("acaLogAnalyticsName", "logAnalytics", "log_analytics", "existingLogAnalytics"),
    NameKey("acaEnvironmentName", "environment", "environment", "existingEnvironment"),
    NameKey(
        "acaEnvironmentStorageName",
        "environmentStorage",
        "environment_storage",
        "existingEnvironmentStorage",
    ),
    NameKey("acaJobName", "job", "job", None),
    NameKey("acaAppName", "containerApp", "app", None),
)

TABLE: Final[tuple[Key, ...]] = (
    Key(
        "location",
        STRING,
        "Region override for ftk's resources; default azure-native:location, else the existing "
        "resource group's region.",
    ),
    Key("resourceGroupName", STRING, "Resource group; default <project>-<stack>-rg."),
    Key(
        "existingResourceGroup",
        BOOLEAN,
        "Read resourceGroupName with a get function instead of creating it; never managed or "
        "deleted.",
        default=False,
    ),
    Key(
        "storageAccountName",
        STRING,
        "Storage account, 3-24 lowercase letters/digits; default from project, stack and a "
        "subscription hash.",
    ),
    Key(
        "existingStorageAccount",
        BOOLEAN,
        "Reference storageAccountName instead of creating it.",
        default=False,
    ),
    Key(
        "storageSku",
        CHOICE,
        "Storage SKU; Standard_LRS, Standard_ZRS, Standard_GRS, Standard_RAGRS, Standard_GZRS or "
        "Standard_RAGZRS.",
        default="Standard_LRS",
        choices=STORAGE_SKUS,
    ),
    Key(
        "fileShareName",
        STRING,
        "Azure Files share the job and the app mount; default <project>-<stack>-share.",
    ),
    Key(
        "existingFileShare",
        BOOLEAN,
        "Reference fileShareName (needs existingStorageAccount).",
        default=False,
    ),
    Key(
        "fileShareQuotaGiB",
        INTEGER,
        "Share quota in GiB, 1-102400.",
        default=1024,
        lo=1,
        hi=102400,
        unit=" of GiB",
    ),
    Key(
        "shareSoftDeleteDays",
        INTEGER,
        "Days a deleted share can be restored, 1-365.",
        default=7,
        lo=1,
        hi=365,
        unit=" of days",
    ),
    Key("acaLogAnalyticsName", STRING, "Log Analytics workspace; default <project>-<stack>-logs."),
    Key(
        "existingLogAnalytics",
        BOOLEAN,
        "Reference acaLogAnalyticsName instead of creating it.",
        default=False,
    ),
    Key(
        "logRetentionDays",
        INTEGER,
        "Log retention in days, 30-730.",
        default=30,
        lo=30,
        hi=730,
        unit=" of days",
    ),
    Key("acaEnvironmentName", STRING, "Container Apps environment; default <project>-<stack>-env."),
    Key(
        "existingEnvironment",
        BOOLEAN,
        "Reference acaEnvironmentName; it must already have the GPU workload profile (a "
        "serverless one can be added to it, a dedicated one cannot).",
        default=False,
    ),
    Key(
        "acaEnvironmentStorageName",
        STRING,
        "The environment's storage entry for the share; default <project>-<stack>-share.",
    ),
    Key(
        "existingEnvironmentStorage",
        BOOLEAN,
        "Reference acaEnvironmentStorageName (needs existingEnvironment).",
        default=False,
    ),
    Key("acaJobName", STRING, "Fine-tuning job; default <project>-<stack>-job."),
    Key("acaAppName", STRING, "Inference app; default <project>-<stack>-app."),
    Key(
        "gpuProfile",
        CHOICE,
        "Consumption-GPU-NC24-A100, Consumption-GPU-NC8as-T4, NC24-A100, NC48-A100 or NC96-A100.",
        default="Consumption-GPU-NC24-A100",
        choices=tuple(GPU_PROFILES),
    ),
    Key(
        "gpuWorkloadProfileName",
        STRING,
        "Name of the GPU workload profile inside the environment.",
        default="GPU",
    ),
    Key(
        "gpuMinimumCount",
        INTEGER,
        "Dedicated profiles only - minimum nodes.",
        default=0,
        lo=0,
        hi=100,
    ),
    Key(
        "gpuMaximumCount",
        INTEGER,
        "Dedicated profiles only - maximum nodes; default maximumInstanceCount.",
        lo=1,
        hi=100,
    ),
    Key(
        "maximumInstanceCount",
        INTEGER,
        "Inference app max replicas (and dedicated max nodes), 1-100.",
        default=1,
        lo=1,
        hi=100,
    ),
    Key(
        "cpu",
        NUMBER,
        "vCPUs per replica; default the whole serverless replica, or on a dedicated profile one "
        "GPU's share of the node less ftk's margin for the runtime.",
    ),
    Key(
        "memory",
        STRING,
        "Memory per replica such as 220Gi; default as for cpu (serverless A100 220Gi, T4 56Gi, "
        "dedicated 200Gi).",
    ),
    Key(
        "image",
        STRING,
        "Job container image (CUDA + PyTorch).",
        default="docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime",
    ),
    Key(
        "commands",
        LIST,
        "The job's commands, run by bash -c with set -euo pipefail.",
        default=JOB_COMMANDS,
    ),
    Key(
        "timeout",
        INTEGER,
        "Job replica timeout in seconds, 1-86400.",
        default=10800,
        lo=1,
        hi=86400,
        unit=" of seconds",
    ),
    Key(
        "replicaRetryLimit",
        INTEGER,
        "Job retries per execution, 0-10.",
        default=0,
        lo=0,
        hi=10,
    ),
    Key(
        "mountPath",
        STRING,
        "Where the share is mounted in the job and the app.",
        default=DEFAULT_MOUNT_PATH,
    ),
    Key(
        "jobSecrets",
        OBJECT,
        "NAME -> value; each becomes ACA secret name-in-kebab-case and env NAME via secretRef.",
        secret=True,
    ),
    Key("inferenceEnabled", BOOLEAN, "Declare the inference app.", default=True),
    Key(
        "inferenceEngine",
        CHOICE,
        "vllm (vLLM's OpenAI server, official image) or transformers (python -m inference "
        "serve); default vllm on A100 profiles, transformers on T4.",
        choices=tuple(ENGINES),  # the registry, contract/engines.py
    ),
    Key(
        "inferenceBaseModel",
        STRING,
        "The app's FTK_BASE_MODEL.",
        default="microsoft/Phi-3-mini-4k-instruct",
    ),
    Key(
        "inferenceImage",
        STRING,
        "Inference container image; default image (transformers) or the pinned vllm/vllm-openai "
        "image (vllm).",
    ),
    Key(
        "inferencePort",
        INTEGER,
        "Ingress target port and the app's PORT, 1-65535.",
        default=8000,
        lo=1,
        hi=65535,
    ),
    Key(
        "inferenceMinReplicas",
        INTEGER,
        "Inference min replicas, 0 (scale to zero) to maximumInstanceCount.",
        default=0,
        lo=0,
        hi=100,
    ),
    Key(
        "inferenceStartupSeconds",
        INTEGER,
        "How long a start (install, model download + load) may take before the liveness probe "
        "restarts the replica, 10-2460; readiness is probed every 5 s regardless.",
        default=1800,
        lo=10,
        hi=PROBE_MAX_DELAY + PROBE_MAX_PERIOD * PROBE_MAX_FAILURES,
        unit=" of seconds",
    ),
    Key(
        "skipRegionCheck",
        BOOLEAN,
        "Do not reject a region that Microsoft's GPU region list (dated, contract/gpus.py) says "
        "lacks the GPU.",
        default=False,
    ),
    Key(
        "tags",
        OBJECT,
        "Extra tags on every resource; project, stack and managed-by are always set.",
    ),
    Key(
        "prebuiltImage",
        BOOLEAN,
        "Build an image with the locked dependencies baked in (Azure Container Registry, a "
        "registry task run) and run the job and the app from it, pulled with a user-assigned "
        "identity holding AcrPull; default false (install once per lock on the share).",
        default=False,
    ),
    Key(
        "prebuiltImageSource",
        STRING,
        "With prebuiltImage - the https URL of a git repository holding this project, the build "
        "context ACR fetches, e.g. https://github.com/you/ftk.git#main.",
    ),
)
KEYS: Final[dict[str, Key]] = {k.name: k for k in TABLE}
# The provider's region, which the stack reads too; documented in Pulumi.yaml beside ours.
PROVIDER_LOCATION: Final = "azure-native:location"
PROVIDER_LOCATION_DOC: Final = (
    "(string) Azure region for every resource, e.g. swedencentral. Required unless an existing "
    "resource group gives it."
)


def default(name: str) -> Any:
    """The fixed default of key `name` (None where it has none or it is computed)."""
    return KEYS[name].default


def pulumi_yaml_config() -> dict[str, dict[str, Any]]:
    """`template.config` of Pulumi.yaml as the table says it: the provider's region, then every
    key in the table's order."""
    return {
        PROVIDER_LOCATION: {"description": PROVIDER_LOCATION_DOC},
        **{k.name: k.pulumi_yaml() for k in TABLE},
    }


class StackConfigError(ValueError):
    """A config value breaks its rule; the message names the key, the value and the rule."""


_TABLE_DEFAULT: Any = object()  # "the table's default / bound" in the getters below


class StackConfig:
    """Raw config strings turned into typed values by the table, or one clear error.

    `lookup(name)` gives a key's raw string (None: unset); `full_key(name)` its name with the
    namespace, for messages; `error` the exception to raise (the stack passes a `pulumi.RunError`
    so Pulumi shows the message without a traceback).
    """

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        full_key: Callable[[str], str],
        error: type[Exception] = StackConfigError,
    ) -> None:
        self._lookup = lookup
        self.full_key = full_key
        self._error = error

    @classmethod
    def from_values(cls, values: Mapping[str, str], project: str) -> StackConfig:
        """Over a stack's config as `pulumi config --json` gives it: `project:key` -> value."""

        def full(name: str) -> str:
            return f"{project}:{name}"

        return cls(lambda name: values.get(full(name)), full)

    def fail(self, key: str, value: object, rule: str) -> Exception:
        if key in KEYS and KEYS[key].secret:  # an error message is never where a secret shows
            return self._error(f"{self.full_key(key)} is invalid: {rule}.")
        shown = value if isinstance(value, str) else json.dumps(value)
        return self._error(f"{self.full_key(key)} = {shown!r} is invalid: {rule}.")

    def raw(self, key: str) -> str | None:
        """The key's value, stripped; None when unset or blank."""
        assert key in KEYS, key
        value = self._lookup(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    def string(self, key: str, default: Any = _TABLE_DEFAULT, pattern: str = r"\S+") -> str | None:
        value = self.raw(key)
        if value is None:
            return KEYS[key].default if default is _TABLE_DEFAULT else default  # type: ignore[return-value]
        if not re.fullmatch(pattern, value):
            raise self.fail(key, value, "must not be empty nor contain spaces")
        return value

    def integer(self, key: str, default: Any = _TABLE_DEFAULT, hi: Any = _TABLE_DEFAULT) -> int:
        spec = KEYS[key]
        value = self.raw(key)
        if value is None:
            return int(spec.default if default is _TABLE_DEFAULT else default)  # type: ignore[arg-type]
        lo, top = spec.lo, spec.hi if hi is _TABLE_DEFAULT else hi
        assert lo is not None and top is not None, key
        rule = f"must be a whole number{spec.unit} from {lo} to {top}"
        if not re.fullmatch(r"[+-]?\d+", value) or not lo <= int(value) <= top:
            raise self.fail(key, value, rule)
        return int(value)

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if value is None:
            return bool(KEYS[key].default)
        if value.lower() not in ("true", "false"):
            raise self.fail(key, value, "must be true or false")
        return value.lower() == "true"

    def choice(self, key: str, default: Any = _TABLE_DEFAULT) -> str:
        spec = KEYS[key]
        value = self.raw(key) or (spec.default if default is _TABLE_DEFAULT else default)
        allowed = spec.choices
        if value not in allowed:
            near = difflib.get_close_matches(str(value), allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise self.fail(key, value, f"must be one of {', '.join(allowed)}{hint}")
        return str(value)

    def json_value(self, key: str) -> Any:
        value = self.raw(key)
        if value is None:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            # A plain string where an object was expected; the caller's rule explains.
            return value

    def unknown(self, key: str) -> str | None:
        """The message for `key` (without the namespace) when ftk does not read it, else None."""
        if key in KEYS:
            return None
        near = difflib.get_close_matches(key, list(KEYS), n=1)
        hint = f"did you mean {self.full_key(near[0])}?" if near else "see docs/infra.md"
        return f"{self.full_key(key)} is not a key ftk reads; {hint}"

    def check(self, key: str) -> None:
        """Read `key` by its kind's rule alone (the stack adds rules between keys); raises."""
        kind = KEYS[key].kind
        if kind == INTEGER:
            self.integer(key, default=0)
        elif kind == BOOLEAN:
            self.boolean(key)
        elif kind == CHOICE and self.raw(key) is not None:
            self.choice(key)
        elif kind == NUMBER and self.raw(key) is not None:
            try:
                number = float(self.raw(key) or "")
            except ValueError:
                number = -1.0
            if not number > 0:
                raise self.fail(key, self.raw(key), "must be a number above 0")

    def problems(self) -> dict[str, str]:
        """Every key whose value breaks its own rule (bounds, choices, kind): key -> message."""
        found = {}
        for key in KEYS:
            try:
                self.check(key)
            except self._error as exc:
                found[key] = str(exc)
        return found
