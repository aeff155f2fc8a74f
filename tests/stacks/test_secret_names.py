"""One secret-name rule: `ftk secret set` and the stack's `jobSecrets` accept exactly the same
names, so a name the CLI stores never fails the next `pulumi up`."""

from __future__ import annotations

import re

import pytest

from cli.errors import UsageError
from cli.ops.secrets import check_name
from contract.secrets import aca_secret_name
from stacks.reader import load_settings
from stacks.settings import SettingsError
from testkit.fakes.pulumi_mocks import set_stack_config

ACCEPTED = ["HF_TOKEN", "WANDB_API_KEY", "A", "X1", "OPENAI_KEY_2", "HF__TOKEN", "A" * 63]
REJECTED = [
    "hf_token",  # the CLI took it, and the next `pulumi up` failed
    "Hf_Token",
    "_HF_TOKEN",
    "HF_TOKEN_",
    "1HF",
    "HF-TOKEN",
    "HF TOKEN",
    "HF.TOKEN",
    "HÉ",
    "A" * 64,
]
# ARM's rule for ACA secret names: lower-case alphanumerics and '-', alphanumeric at both ends.
ACA_SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def cli_accepts(name: str) -> bool:
    try:
        check_name(name)
    except UsageError:
        return False
    return True


def stack_accepts(name: str) -> bool:
    set_stack_config({}, secrets={"jobSecrets": {name: "value"}})
    try:
        load_settings()
    except SettingsError:
        return False
    return True


@pytest.mark.parametrize("name", ACCEPTED + REJECTED)
def test_cli_and_stack_agree_on_every_name(pulumi_mocks, name: str) -> None:
    expected = name in ACCEPTED
    assert cli_accepts(name) is expected, f"CLI on {name!r}"
    assert stack_accepts(name) is expected, f"stack on {name!r}"


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_names_map_to_valid_distinct_aca_secret_names(name: str) -> None:
    secret = aca_secret_name(name)
    assert ACA_SECRET_NAME.fullmatch(secret), secret
    assert secret.upper().replace("-", "_") == name  # one-to-one


def test_a_lower_case_name_is_refused_with_the_upper_case_suggestion() -> None:
    with pytest.raises(UsageError) as err:
        check_name("hf_token")
    assert "HF_TOKEN" in (err.value.hint or "")
