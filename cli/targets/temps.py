"""Temporary names for atomic writes on a share, and when a leftover temporary is stale.

Both shares write a file under a temporary name in the same folder, then rename it into place.
The temporary name has a fixed length (`.ftk-tmp-` + 16 hex digits, 25 characters) instead of
being the real name plus a suffix, so it fits wherever the real name fits: a name component may
be 255 bytes on Linux file systems (NAME_MAX) and 255 characters on Azure Files (MicrosoftDocs/
azure-docs, includes/data-box-naming-conventions.md, "Directory and file names for Azure files",
ms.date 2019-05-21).

A sync killed with SIGKILL (or a dropped machine) leaves its temporaries behind; they are
invisible to readers, and the next sync that writes removes those older than `STALE_AFTER_S`.
Age is the time since the temporary was last written, measured by the share's own clock: a live
upload writes its temporary at least every few seconds (one range of at most 4 MiB, or one
local `copyfile` block), and the SDK gives up on a silent connection within minutes, so a
temporary not written for an hour belongs to a dead writer, never to a concurrent live sync.
"""

from __future__ import annotations

import posixpath
import re
import secrets

TEMP_PREFIX = ".ftk-tmp-"
STALE_AFTER_S = 3600.0

_CURRENT = re.compile(rf"{re.escape(TEMP_PREFIX)}[0-9a-f]{{16}}")
# Names of earlier ftk versions: `.<name>.ftk-tmp-<8 hex>` (local), `.<name>.ftk-part-<12 hex>`.
_LEGACY = re.compile(r"\..+\.ftk-(?:tmp|part)-[0-9a-f]{8,12}")


def temporary_name(path: str) -> str:
    """A fresh temporary path next to `path` (posix), of fixed length."""
    return posixpath.join(posixpath.dirname(path), TEMP_PREFIX + secrets.token_hex(8))


def is_temporary(path: str) -> bool:
    """Whether the last component of `path` is a temporary name ftk makes (or made)."""
    name = posixpath.basename(path.replace("\\", "/"))
    return bool(_CURRENT.fullmatch(name) or _LEGACY.fullmatch(name))
