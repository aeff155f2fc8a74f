"""Pytest fixtures for the Azure fake, registered as a plugin by `tests/conftest.py`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.fakes.azure import FakeAzure, target_from_outputs


@pytest.fixture
def fake_azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    """A running fake deployment (job, app, storage account, share, Log Analytics). A test
    whose requests stray from the vendored Microsoft.App spec fails, whatever the CLI did with
    the fake's 400 (a test that provokes one on purpose clears `arm.spec_violations`)."""
    with FakeAzure(tmp_path_factory.mktemp("fake-azure"), lifetime=120) as fake:
        yield fake
    assert fake.arm.spec_violations == [], "requests the Microsoft.App spec does not allow"


@pytest.fixture
def azure_target(fake_azure: FakeAzure):  # type: ignore[no-untyped-def]
    """An AzureTarget for a Pulumi stack's outputs, its clients pointed at the fake."""
    return target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection())


@pytest.fixture
def infra_files(fake_azure: FakeAzure, tmp_path: Path) -> list[Path]:
    """The AI Toolkit's infra/finetuning.config.json and infra/inference.config.json."""
    folder = tmp_path / "infra"
    folder.mkdir()
    paths = []
    for name, data in fake_azure.infra_files().items():
        path = folder / name
        path.write_text(json.dumps(data, indent=2))
        paths.append(path)
    return paths


@pytest.fixture
def infra_target(fake_azure: FakeAzure, infra_files: list[Path]):  # type: ignore[no-untyped-def]
    from cli.targets.aca import AzureTarget

    return AzureTarget.from_infra_files(infra_files, connection=fake_azure.connection())
