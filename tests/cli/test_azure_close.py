"""`AzureTarget.close()` releases every client it opened, the share's connection pool included."""

from __future__ import annotations

from typing import Any

from testkit.fakes.azure import FakeAzure, target_from_outputs


def test_close_releases_the_share_connections_and_the_share_still_works(tmp_path):
    (tmp_path / "fake").mkdir()
    with FakeAzure(tmp_path / "fake") as fake:
        connection = fake.connection()
        transports: list[Any] = []
        make = connection.share_transport_kwargs

        def recording() -> dict[str, Any]:
            kwargs = make()
            transports.append(kwargs["transport"])
            return kwargs

        object.__setattr__(connection, "share_transport_kwargs", recording)
        target = target_from_outputs(fake.outputs(), connection=connection)
        target.share().write_bytes("a.txt", b"1")
        [transport] = transports
        assert transport.session is not None
        target.close()
        assert transport.session is None  # azure-core's RequestsTransport closed its session
        target.close()
        assert target.share().read_bytes("a.txt") == b"1"  # a new client, on first use
        assert len(transports) == 2
        target.close()
