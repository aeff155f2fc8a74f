"""Derived names obey Azure's rules for any project/stack, and stay stable."""

from __future__ import annotations

from dataclasses import fields

import pytest

from stacks.naming import RULES, derived_names, storage_account_name

KIND_OF_FIELD = {
    "resource_group": "resourceGroup",
    "storage_account": "storageAccount",
    "file_share": "fileShare",
    "log_analytics": "logAnalytics",
    "environment": "environment",
    "environment_storage": "environmentStorage",
    "job": "job",
    "app": "containerApp",
}


@pytest.mark.parametrize(
    "stack",
    [
        "dev",
        "prod",
        "Feature_Branch.42",
        "x",
        "a-very-long-stack-name-for-a-feature-branch-0123456789",
    ],
)
def test_derived_names_obey_azure_rules(stack: str) -> None:
    names = derived_names("ftk", stack, seed="sub-1")
    for f in fields(names):
        value = getattr(names, f.name)
        rule = RULES[KIND_OF_FIELD[f.name]]
        assert rule.obeyed_by(value), f"{f.name}={value!r} breaks: {rule.text}"


def test_dev_names_read_like_the_project_and_stack() -> None:
    names = derived_names("ftk", "dev", seed="sub-1")
    assert (names.job, names.app, names.environment) == (
        "ftk-dev-job",
        "ftk-dev-app",
        "ftk-dev-env",
    )
    assert names.resource_group == "ftk-dev-rg"
    assert names.storage_account.startswith("ftkdev")


def test_storage_account_name_is_stable_and_unique_per_subscription() -> None:
    a = storage_account_name("ftk", "dev", "sub-1")
    assert a == storage_account_name("ftk", "dev", "sub-1")
    assert a != storage_account_name("ftk", "dev", "sub-2")
    assert a != storage_account_name("ftk", "prod", "sub-1")


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("storageAccount", "ftkdev1234", "ftk-dev"),
        ("containerApp", "ftk-app-1", "ftk--app"),
        ("job", "a1", "a-"),
        ("fileShare", "1share", "share--x"),
        ("logAnalytics", "Logs-1", "abc"),
        ("resourceGroup", "My.Group_(1)", "group."),
        ("environment", "env-1", "Env"),
    ],
)
def test_rules_accept_and_reject_examples(kind: str, good: str, bad: str) -> None:
    assert RULES[kind].obeyed_by(good)
    assert not RULES[kind].obeyed_by(bad)
