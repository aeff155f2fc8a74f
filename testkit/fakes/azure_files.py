"""The Azure Files REST subset ftk uses, in memory: directories, create/put-range/rename/get/list/
delete/properties, with account-key (SharedKey) auth checked on every request.

Listing follows Azure/azure-rest-api-specs specification/storage/data-plane/Microsoft.FileStorage/
stable/2025-01-05/file.json (`Directory_ListFilesAndDirectoriesSegment`): `prefix` filters names,
and `include=Timestamps` adds each file's `Last-Modified` (RFC 1123) and `LastWriteTime`
(ISO 8601) to its `Properties`. Every write (create, Put Range) sets the file's last-modified time;
tests place files written long ago with `put(..., age_s=...)`, as a killed writer leaves them.
"""

from __future__ import annotations

import posixpath
import threading
import time
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from testkit.fakes.http import Request, Response

ETAG = '"0x8DC0000000000001"'
# "Directory and file names for Azure files ... must not exceed 255 characters in length"
# (MicrosoftDocs/azure-docs, includes/data-box-naming-conventions.md, ms.date 2019-05-21); a name
# that breaks the naming rules fails with 400 (the REST naming doc). The error code is one of the
# spec's `ErrorCode` values; which one the service picks for this case is not documented.
MAX_NAME = 255
# Create File may carry the file's first bytes, up to 4 MiB, from version 2026-02-06 on
# (learn.microsoft.com/rest/api/storageservices/create-file, read 2026-12-05). The page does not
# say which error an older version or a larger body gets; the fake answers 400.
CREATE_WITH_DATA_SINCE = "2026-02-06"
CREATE_WITH_DATA_MAX = 4 * 1024 * 1024
# MicrosoftDocs, "Naming and referencing shares, directories, files, and metadata", section
# "Directory and file names" (learn.microsoft.com/rest/api/storageservices/
# naming-and-referencing-shares--directories--files--and-metadata, read 2026-12-05):
# - "Directory and file names are case-preserving and case-insensitive": a path names whatever
#   exists under any spelling of it, and the existing entry keeps its spelling (what the service
#   does to the spelling when a file is replaced or renamed onto another's is not documented; the
#   fake keeps the existing one). How it folds case beyond ASCII is not documented either: the
#   fake upper-cases each character on its own.
# - "The following characters are not allowed: " \ / : | < > * ?"; "control characters (0x00 to
#   0x1F, \u0081, etc.) are also not allowed" (the fake refuses all of C0, DEL and C1);
# - "The following file names are not allowed: LPT1 ... LPT9, COM1 ... COM9, PRN, AUX, NUL, CON,
#   CLOCK$, dot character (.), and two dot characters (..)".
# Each fails with 400 (`InvalidResourceName`, as for the length: the code is not documented).
_NOT_ALLOWED = frozenset('"\\:|<>*?') | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
_RESERVED_FILES = frozenset(
    [f"LPT{i}" for i in range(1, 10)]
    + [f"COM{i}" for i in range(1, 10)]
    + ["PRN", "AUX", "NUL", "CON", "CLOCK$", ".", ".."]
)


def _invalid_name(path: str, *, is_file: bool) -> bool:
    parts = path.split("/")
    if any(len(part) > MAX_NAME or _NOT_ALLOWED & set(part) for part in parts):
        return True
    return is_file and parts[-1].upper() in _RESERVED_FILES


def _fold(path: str) -> str:
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in path)


def _error(status: int, code: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{code}</Message></Error>"
    ).encode()
    return Response(status, body, {"Content-Type": "application/xml", "x-ms-error-code": code})


def _ok(status: int = 201, **headers: str) -> Response:
    base = {"ETag": ETAG, "Last-Modified": formatdate(usegmt=True), "x-ms-version": "2025-01-05"}
    return Response(status, b"", {**base, **headers})


class FakeFileShares:
    """Shares of one storage account. `files` maps share -> path -> content."""

    def __init__(self, account: str, shares: list[str]):
        self.account = account
        self.files: dict[str, dict[str, bytearray]] = {name: {} for name in shares}
        self.dirs: dict[str, set[str]] = {name: {""} for name in shares}
        self.modified: dict[str, dict[str, float]] = {name: {} for name in shares}  # epoch s
        self.keys: list[str] = []  # account keys that sign requests (set by listKeys)
        self.lock = threading.Lock()
        # Per share: folded path -> its spelling, for files and directories alike; rebuilt when
        # a test changed `files`/`dirs` directly (their sizes no longer match).
        self._spelling: dict[str, tuple[tuple[int, int], dict[str, str]]] = {}

    # -- helpers for tests ------------------------------------------------------------------

    def read(self, share: str, path: str) -> bytes:
        return bytes(self.files[share][path])

    def paths(self, share: str) -> list[str]:
        with self.lock:
            return sorted(self.files[share])

    def put(self, share: str, path: str, data: bytes, *, age_s: float = 0.0) -> None:
        """Place a file directly (its folders too), last written `age_s` seconds ago."""
        with self.lock:
            path = self._canonical(share, path)
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                self._add_dir(share, "/".join(parts[:i]))
            self._add_file(share, path, bytearray(data))
            self.modified[share][path] = time.time() - age_s

    # -- case-insensitive, case-preserving names ---------------------------------------------

    def _spellings(self, share: str) -> dict[str, str]:
        files, dirs = self.files[share], self.dirs[share]
        sizes = (len(files), len(dirs))
        cached = self._spelling.get(share)
        if cached is None or cached[0] != sizes:
            cached = (sizes, {_fold(p): p for p in (*dirs, *files) if p})
            self._spelling[share] = cached
        return cached[1]

    def _canonical(self, share: str, path: str) -> str:
        """`path` spelled as the share already spells it (each existing component)."""
        spellings, out = self._spellings(share), ""
        for part in path.split("/") if path else []:
            candidate = f"{out}/{part}" if out else part
            out = spellings.get(_fold(candidate), candidate)
        return out

    def _add_file(self, share: str, path: str, data: bytearray) -> None:
        spellings = self._spellings(share)
        if path not in self.files[share]:
            self.files[share][path] = data
            spellings[_fold(path)] = path
            self._spelling[share] = ((len(self.files[share]), len(self.dirs[share])), spellings)
        else:
            self.files[share][path] = data

    def _add_dir(self, share: str, path: str) -> None:
        spellings = self._spellings(share)
        if path not in self.dirs[share]:
            self.dirs[share].add(path)
            spellings[_fold(path)] = path
            self._spelling[share] = ((len(self.files[share]), len(self.dirs[share])), spellings)

    def _remove(self, share: str, path: str) -> None:
        spellings = self._spellings(share)
        self.files[share].pop(path, None)
        self.dirs[share].discard(path)
        spellings.pop(_fold(path), None)
        self._spelling[share] = ((len(self.files[share]), len(self.dirs[share])), spellings)

    # -- REST -------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        auth = req.headers.get("authorization", "")
        if not auth.startswith(f"SharedKey {self.account}:") or not self.keys:
            return _error(403, "AuthenticationFailed")
        parts = req.path.strip("/").split("/", 2)
        share = parts[1] if len(parts) > 1 else ""
        path = parts[2].strip("/") if len(parts) > 2 else ""
        if share not in self.files:
            return _error(404, "ShareNotFound")
        with self.lock:
            return self._route(req, share, self._canonical(share, path))

    def _route(self, req: Request, share: str, path: str) -> Response:
        files, dirs = self.files[share], self.dirs[share]
        restype, comp = req.query.get("restype"), req.query.get("comp")
        method = req.method
        creates = method == "PUT" and comp in (None, "rename")
        if creates and _invalid_name(path, is_file=restype != "directory"):
            return _error(400, "InvalidResourceName")
        if restype == "share":
            return _ok(200)
        if restype == "directory":
            if method == "PUT":
                if path in dirs or path in files:
                    return _error(409, "ResourceAlreadyExists")
                if posixpath.dirname(path) not in dirs:
                    return _error(404, "ParentNotFound")
                self._add_dir(share, path)
                return _ok(201)
            if path not in dirs:
                return _error(404, "ResourceNotFound")
            if method == "GET" and comp == "list":
                return self._list(share, path, req.query)
            if method in ("GET", "HEAD"):
                return _ok(200)
            if method == "DELETE":
                if any(p.startswith(path + "/") for p in (*files, *dirs)):
                    return _error(409, "DirectoryNotEmpty")
                self._remove(share, path)
                return _ok(202)
        if method == "PUT" and comp == "range":
            if path in files:
                self.modified[share][path] = time.time()
            return self._put_range(req, files, path)
        if method == "PUT" and comp == "rename":
            return self._rename(req, share, path)
        if method == "PUT":
            if posixpath.dirname(path) not in dirs:
                return _error(404, "ParentNotFound")
            size = int(req.headers.get("x-ms-content-length", "0"))
            if req.body and (
                req.headers.get("x-ms-version", "") < CREATE_WITH_DATA_SINCE
                or len(req.body) > CREATE_WITH_DATA_MAX
                or len(req.body) > size
            ):
                return _error(400, "InvalidHeaderValue")  # which code: not documented
            content = bytearray(size)
            content[: len(req.body)] = req.body
            self._add_file(share, path, content)
            self.modified[share][path] = time.time()
            return _ok(201)
        if path not in files:
            return _error(404, "ResourceNotFound")
        if method == "DELETE":
            self._remove(share, path)
            self.modified[share].pop(path, None)
            return _ok(202)
        if method == "HEAD":
            return _ok(200, **self._file_headers(len(files[path])))
        if method == "GET":
            return self._get(req, files[path])
        return _error(400, "UnsupportedHttpVerb")

    @staticmethod
    def _file_headers(size: int) -> dict[str, str]:
        return {
            "Content-Length": str(size),
            "x-ms-type": "File",
            "Content-Type": "application/octet-stream",
        }

    def _put_range(self, req: Request, files: dict[str, bytearray], path: str) -> Response:
        if path not in files:
            return _error(404, "ResourceNotFound")
        start, end = _range(req.headers.get("x-ms-range") or req.headers.get("range", ""))
        data = files[path]
        if end >= len(data) or len(req.body) != end - start + 1:
            return _error(416, "InvalidRange")
        data[start : end + 1] = req.body
        return _ok(201)

    def _rename(self, req: Request, share: str, path: str) -> Response:
        files, dirs = self.files[share], self.dirs[share]
        source_url = req.headers.get("x-ms-file-rename-source", "")
        source = unquote(urlsplit(source_url).path).strip("/").split("/", 2)[-1]
        source = self._canonical(share, source)
        if source not in files:
            return _error(404, "ResourceNotFound")
        if posixpath.dirname(path) not in dirs:
            return _error(404, "ParentNotFound")
        replace = req.headers.get("x-ms-file-rename-replace-if-exists", "").lower() == "true"
        if path in files and not replace:
            return _error(409, "ResourceAlreadyExists")
        data = files[source]
        self._remove(share, source)
        self._add_file(share, path, data)
        self.modified[share][path] = self.modified[share].pop(source, time.time())
        return _ok(200)

    def _get(self, req: Request, data: bytearray) -> Response:
        header = req.headers.get("x-ms-range") or req.headers.get("range")
        if not header:
            return Response(200, bytes(data), {**_ok(200).headers, **self._file_headers(len(data))})
        start, end = _range(header)
        if start >= len(data):
            return _error(416, "InvalidRange")
        end = min(end, len(data) - 1)
        chunk = bytes(data[start : end + 1])
        headers = {
            **_ok(206).headers,
            **self._file_headers(len(chunk)),
            "Content-Range": f"bytes {start}-{end}/{len(data)}",
        }
        return Response(206, chunk, headers)

    def _list(self, share: str, directory: str, query: dict[str, str]) -> Response:
        prefix = f"{directory}/" if directory else ""
        name_prefix = query.get("prefix", "")
        timestamps = "timestamps" in query.get("include", "").lower().split(",")
        entries = []
        for d in sorted(self.dirs[share]):
            name = d[len(prefix) :]
            if d and d.startswith(prefix) and "/" not in name and name.startswith(name_prefix):
                entries.append(f"<Directory><Name>{escape(name)}</Name><Properties /></Directory>")
        for f, content in sorted(self.files[share].items()):
            name = f[len(prefix) :]
            if f.startswith(prefix) and "/" not in name and name.startswith(name_prefix):
                extra = ""
                if timestamps:
                    when = self.modified[share].get(f, time.time())
                    iso = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
                    extra = (
                        f"<LastWriteTime>{iso}</LastWriteTime>"
                        f"<Last-Modified>{formatdate(when, usegmt=True)}</Last-Modified>"
                    )
                entries.append(
                    f"<File><Name>{escape(name)}</Name><Properties><Content-Length>{len(content)}"
                    f"</Content-Length>{extra}</Properties></File>"
                )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="https://fake/{self.account}" '
            f'ShareName="{share}" DirectoryPath="{escape(directory)}">'
            f"<Entries>{''.join(entries)}</Entries><NextMarker /></EnumerationResults>"
        ).encode()
        return Response(200, body, {"Content-Type": "application/xml"})


def _range(header: str) -> tuple[int, int]:
    spec = header.split("=", 1)[-1]
    start, _, end = spec.partition("-")
    return int(start), int(end) if end else 2**62
