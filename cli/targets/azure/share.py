"""The `Share` protocol over an Azure Files share (azure-storage-file-share, account-key auth).

Writes are atomic: data goes to a hidden temporary file in the same directory, which is renamed
over the final name once complete, so the job never sees a half-written file. One exception, with
nothing to protect: a file of at most 4 MiB new in a directory this object created is one Create
File request at its final name (`_in_place`; docs/azure.md, "Requests per file"). Temporary files
are invisible to `list_files`, removed when an upload fails, and, when a killed process left them,
removed by `sweep_temporaries` once stale (`cli.targets.temps`: fixed-length names, the age rule).

Age is measured on the service's clock alone: the listing's `Last-Modified` of each file against
the `Date` header of the same response (Azure/azure-rest-api-specs, specification/storage/
data-plane/Microsoft.FileStorage/stable/2025-01-05/file.json: `FileProperty` carries
`Last-Modified` when the listing asks `include=Timestamps`; every response carries `Date`, "the
time at which the response was initiated"), so a skewed local clock cannot make a live
temporary look stale.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cli.errors import NotFoundError
from cli.targets.azure.errors import azure_call
from cli.targets.base import RemoteFile
from cli.targets.temps import TEMP_PREFIX, is_temporary, temporary_name

if TYPE_CHECKING:
    from azure.storage.fileshare import ShareClient, ShareFileClient

# Create File carries up to 4 MiB of content from version 2026-02-06 on (learn.microsoft.com/
# rest/api/storageservices/create-file, read 2026-12-05: "Beginning with version 2026-02-06, you
# can also create file with content up to 4MiB using Create File operation"; the SDK sends it as
# `create_file(size, data=...)`, azure-storage-file-share 12.27.1, whose default API version is
# 2026-06-06). One request instead of Create + Put Range for every file up to that size.
CREATE_WITH_DATA_MAX = 4 * 1024 * 1024
# Larger files: the SDK's own range uploader (`ShareFileClient.upload_file`), this many ranges of
# one file in flight at once, like az CLI's `--max-connections` per file (azure-cli, storage
# module, operations/file.py `storage_file_upload_batch`, read 2026-12-05).
RANGES_IN_FLIGHT = 4
DATA_ROLE = "Storage Account Key Operator Service Role (or Contributor) on the storage account"


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None)
    return str(code) if code else ""


class AzureFileShare:
    """One Azure Files share; `share_client_factory` builds the SDK client on first use."""

    local_root: Path | None = None
    in_place = True  # False: every file through a temporary (the benchmark measures the cost)

    def __init__(
        self, share_client_factory: Callable[[], ShareClient], *, label: str, parallelism: int = 32
    ):
        self.parallelism = parallelism  # uploads worth running at once (per-request latency)
        self._factory = share_client_factory
        self._client: ShareClient | None = None
        self._lock = threading.Lock()
        self._dirs: set[str] = {""}
        # Directories this object created (the service answered 201, not 409: nothing was in
        # them), and files it has written since: a new file in such a directory has nothing to
        # protect, so it is written in place (see `_atomic_write`).
        self._created: set[str] = set()
        self._written: set[str] = set()
        self.label = label  # e.g. "file share 'ftk' in storage account 'ftkstore'"

    # -- plumbing -------------------------------------------------------------------------

    @property
    def client(self) -> ShareClient:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def close(self) -> None:
        """Close the SDK client and its connection pool; the next call opens a new one."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _file(self, path: str) -> ShareFileClient:
        return self.client.get_file_client(path.strip("/"))

    def _call(self, what: str) -> Any:
        return azure_call(f"{what} on {self.label}", role=DATA_ROLE)

    def _missing(self, exc: BaseException, path: str) -> BaseException:
        """A missing share or file is a NotFoundError, as on every other share."""
        if _error_code(exc) == "ShareNotFound":
            return NotFoundError(
                f"{self.label} does not exist",
                hint="check FILE_SHARE_NAME (`ftk outputs`), or run `pulumi up`",
            )
        return NotFoundError(f"no such file on the share: {path}")

    # -- Share protocol -------------------------------------------------------------------

    def list_files(self, prefix: str = "") -> Iterator[RemoteFile]:
        stack = [prefix.strip("/")]
        while stack:
            directory = stack.pop()
            dir_client = self.client.get_directory_client(directory)
            try:
                with self._call(f"listing '{directory or '/'}'"):
                    entries = list(dir_client.list_directories_and_files())
            except NotFoundError as exc:
                cause = exc.__cause__
                if cause is not None and _error_code(cause) == "ShareNotFound":
                    raise self._missing(cause, directory) from None
                continue  # a missing directory lists as empty, like a missing folder
            for entry in sorted(entries, key=lambda e: e["name"]):
                path = posixpath.join(directory, entry["name"]) if directory else entry["name"]
                if entry.get("is_directory"):
                    stack.append(path)
                elif not is_temporary(path):
                    yield RemoteFile(path=path, size=int(entry.get("size") or 0))

    def read_bytes(self, path: str) -> bytes:

        try:
            with self._call(f"reading '{path}'"):
                return self._file(path).download_file().readall()
        except NotFoundError as exc:
            raise self._missing(exc.__cause__ or exc, path) from None

    def exists(self, path: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        path = path.strip("/")
        try:
            with self._call(f"checking '{path}'"):
                self._file(path).get_file_properties()
            return True
        except NotFoundError as exc:
            cause = exc.__cause__
            if cause is not None and _error_code(cause) == "ShareNotFound":
                raise self._missing(cause, path) from None
        try:
            self.client.get_directory_client(path).get_directory_properties()
            return True
        except ResourceNotFoundError:
            return False

    def make_dirs(self, path: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        path = path.strip("/")
        parts = path.split("/") if path else []
        for i in range(1, len(parts) + 1):
            current = "/".join(parts[:i])
            if current in self._dirs:
                continue
            created = False
            try:
                # Suppressed inside the call: azure_call would turn it into an FtkError.
                with (
                    self._call(f"creating directory '{current}'"),
                    contextlib.suppress(ResourceExistsError),
                ):
                    self.client.get_directory_client(current).create_directory()
                    created = True
            except NotFoundError as exc:
                raise self._missing(exc.__cause__ or exc, current) from None
            with self._lock:
                self._dirs.add(current)
                if created:
                    self._created.add(current)

    def upload_file(self, local: Path, path: str) -> None:
        with local.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self._atomic_write(path, size, handle)

    def write_bytes(self, path: str, data: bytes) -> None:
        self._atomic_write(path, len(data), io.BytesIO(data))

    def download_file(self, path: str, local: Path) -> None:

        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(temporary_name(local.name))
        try:
            with self._call(f"downloading '{path}'"), partial.open("wb") as handle:
                self._file(path).download_file().readinto(handle)
            partial.replace(local)
        except NotFoundError as exc:
            raise self._missing(exc.__cause__ or exc, path) from None
        finally:
            partial.unlink(missing_ok=True)

    def delete(self, path: str) -> None:

        try:
            with self._call(f"deleting '{path}'"):
                self._file(path).delete_file()
        except NotFoundError as exc:
            cause = exc.__cause__
            if cause is not None and _error_code(cause) == "ShareNotFound":
                raise self._missing(cause, path) from None

    def sweep_temporaries(self, directory: str, older_than: float) -> list[str]:
        """Delete temporaries in `directory` whose last write is `older_than` seconds old or more.

        One listing per directory, filtered by the service to names starting with "." (every
        temporary ftk makes or made does); a missing directory has none, and neither has one
        this object created (no request: a first sync into an empty share lists nothing)."""
        directory = directory.strip("/")
        with self._lock:
            if directory in self._created:
                # Made empty by this object: any temporary in it is a live one of ours.
                return []
        server_now: list[datetime] = []

        def response_date(pipeline_response: Any) -> None:
            header = pipeline_response.http_response.headers.get("Date")
            with contextlib.suppress(TypeError, ValueError):
                server_now.append(parsedate_to_datetime(header))

        try:
            with self._call(f"listing '{directory or '/'}'"):
                entries = list(
                    self.client.get_directory_client(directory).list_directories_and_files(
                        name_starts_with=TEMP_PREFIX[:1],
                        include=["timestamps"],
                        raw_response_hook=response_date,
                    )
                )
        except NotFoundError:
            return []
        now = server_now[-1] if server_now else datetime.now(UTC)
        removed: list[str] = []
        for entry in entries:
            modified = entry.get("last_modified")
            if entry.get("is_directory") or not is_temporary(entry["name"]) or modified is None:
                continue
            if (now - modified).total_seconds() < older_than:
                continue  # possibly a concurrent sync's live upload
            path = posixpath.join(directory, entry["name"]) if directory else entry["name"]
            self.delete(path)
            removed.append(path)
        return sorted(removed)

    # -- helpers --------------------------------------------------------------------------

    def _in_place(self, path: str) -> bool:
        """Whether `path` may be written under its own name: a file of at most 4 MiB (one
        request) in a directory this object created, that it has not written yet. Nothing can
        be replaced there, and the manifest (written last) does not name the file yet."""
        with self._lock:
            fresh = posixpath.dirname(path) in self._created and path not in self._written
            self._written.add(path)
        return fresh and self.in_place

    def _atomic_write(self, path: str, size: int, source: BinaryIO) -> None:
        """Write `size` bytes from `source` to `path`: under a temporary name, then renamed over
        `path`; a small new file in a folder this sync made goes straight to `path` in one
        request (`_in_place`)."""
        path = path.strip("/")
        small = size <= CREATE_WITH_DATA_MAX
        data = source.read(size) if small else b""
        if small:
            size = len(data)  # a file cut short since its stat: what was read (a re-sync fixes it)
        if small and self._in_place(path):
            target = self._file(path)
            try:
                with self._call(f"uploading '{path}'"):
                    target.create_file(size, data=data or None)
                return
            except NotFoundError as exc:
                self._discard(target)
                raise self._missing(exc.__cause__ or exc, path) from None
            except BaseException:
                self._discard(target)  # only this sync writes in a folder it just made
                raise
        temporary = temporary_name(path)
        tmp_client = self._file(temporary)
        try:
            with self._call(f"uploading '{path}'"):
                try:
                    self._create(tmp_client, size, data, source, small)
                except Exception as exc:
                    if _error_code(exc) != "ParentNotFound":
                        raise
                    self.make_dirs(posixpath.dirname(path))
                    source.seek(0)
                    self._create(tmp_client, size, data, source, small)
                tmp_client.rename_file(path, overwrite=True)
            with self._lock:
                self._written.add(path)
        except NotFoundError as exc:
            self._discard(tmp_client)
            raise self._missing(exc.__cause__ or exc, path) from None
        except BaseException:
            self._discard(tmp_client)
            raise

    @staticmethod
    def _create(
        client: ShareFileClient, size: int, data: bytes, source: BinaryIO, small: bool
    ) -> None:
        if small:
            client.create_file(size, data=data or None)
        else:  # Create File, then the ranges, RANGES_IN_FLIGHT at once (the SDK's uploader)
            client.upload_file(source, length=size, max_concurrency=RANGES_IN_FLIGHT)

    @staticmethod
    def _discard(tmp_client: ShareFileClient) -> None:
        # Best effort: temporary files are invisible to readers anyway.
        with contextlib.suppress(Exception):
            tmp_client.delete_file(retry_total=0)


def share_client_factory(
    *,
    account_url: str,
    share_name: str,
    account_name: str,
    key_provider: Callable[[], str],
    transport_kwargs: Callable[[], dict[str, Any]],
) -> Callable[[], ShareClient]:
    """A factory that fetches the account key when the share is first used (never stored)."""

    def build() -> ShareClient:
        from azure.storage.fileshare import ShareClient

        credential = {"account_name": account_name, "account_key": key_provider()}
        return ShareClient(account_url, share_name, credential=credential, **transport_kwargs())

    return build
