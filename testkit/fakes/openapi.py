"""Check JSON bodies against the vendored Microsoft.App OpenAPI definitions (testkit/fakes/specs).

Only what the fakes need from Swagger 2.0: `$ref` to a definition, `allOf`, `properties`,
`additionalProperties`, `items`, `required` and the JSON types. A property that no `properties`
(own or inherited through `allOf`) names is an error unless the schema has
`additionalProperties`: ARM treats the published model as the contract, and a name it does not
know is a name the service will drop or refuse. Definitions listed in `x-ftk-open` were not
copied (see SOURCES.md) and accept anything. `null` is accepted for optional properties (ARM
answers with nulls).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).parent / "specs"
SPEC_FILE = SPEC_DIR / "microsoft-app-2026-07-01.trimmed.json"
API_VERSION = "2026-07-01"  # the spec version vendored; azure-mgmt-appcontainers 5.1 sends it


@cache
def _spec() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_text())


def definition(name: str) -> dict[str, Any] | None:
    """The named definition, or None when it is one left open (not vendored)."""
    spec = _spec()
    if name in spec["x-ftk-open"]:
        return None
    return spec["definitions"][name]


def _resolve(schema: dict[str, Any]) -> dict[str, Any] | None:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return definition(ref.removeprefix("#/definitions/"))


def _flatten(schema: dict[str, Any]) -> tuple[dict[str, Any], list[str], Any]:
    """Properties, required names and additionalProperties of a schema and its allOf parents."""
    properties = dict(schema.get("properties") or {})
    required = list(schema.get("required") or [])
    extra = schema.get("additionalProperties")
    for parent in schema.get("allOf") or []:
        resolved = _resolve(parent)
        if resolved is None:
            extra = extra if extra is not None else True
            continue
        p_props, p_required, p_extra = _flatten(resolved)
        properties = {**p_props, **properties}
        required += p_required
        extra = extra if extra is not None else p_extra
    return properties, required, extra


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def validate(
    value: Any,
    name: str,
    *,
    check_required: bool = True,
    check_enum: bool = False,
) -> list[str]:
    """Errors of `value` against definition `name` (empty: valid). `check_required=False` for
    PATCH bodies, whose root is a partial resource (nested objects are still checked);
    `check_enum` for the fake's own answers (the service may accept more than it publishes)."""
    errors: list[str] = []
    _check(
        value,
        {"$ref": f"#/definitions/{name}"},
        name,
        errors,
        required=check_required,
        enum=check_enum,
    )
    return errors


def _check(
    value: Any, schema: dict[str, Any], where: str, errors: list[str], *, required: bool, enum: bool
) -> None:
    resolved = _resolve(schema)
    if resolved is None or value is None:
        return
    kind = resolved.get("type")
    if kind is None and (resolved.get("properties") or resolved.get("allOf")):
        kind = "object"
    if kind is None:
        return  # `{}`: any value
    wanted = _TYPES[kind]
    if not isinstance(value, wanted) or (kind in ("integer", "number") and isinstance(value, bool)):
        errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
        return
    if enum and "enum" in resolved and value not in resolved["enum"]:
        errors.append(f"{where}: {value!r} is not one of {resolved['enum']}")
    if kind == "array":
        assert isinstance(value, list)  # checked against _TYPES above
        for i, item in enumerate(value):
            _check(
                item, resolved.get("items") or {}, f"{where}[{i}]", errors, required=True, enum=enum
            )
        return
    if kind != "object":
        return
    assert isinstance(value, dict)  # checked against _TYPES above
    properties, required_names, extra = _flatten(resolved)
    if required:
        errors += [
            f"{where}: missing required property {n!r}" for n in required_names if n not in value
        ]
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], f"{where}.{key}", errors, required=True, enum=enum)
        elif isinstance(extra, dict):
            _check(item, extra, f"{where}.{key}", errors, required=True, enum=enum)
        elif not extra:
            errors.append(f"{where}: property {key!r} is not in the spec")
