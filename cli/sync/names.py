"""Workspace names the share can hold, checked before anything is uploaded.

The rules are Azure Files' own, from MicrosoftDocs, "Naming and referencing shares, directories,
files, and metadata", section "Directory and file names" (learn.microsoft.com/rest/api/
storageservices/naming-and-referencing-shares--directories--files--and-metadata, read 2026-12-05):
- "Directory and file names are case-preserving and case-insensitive": `Data.csv` and `data.csv`
  are one file there, so one would overwrite the other; also a file and a folder whose names
  differ only in case ("The same name cannot be used for a file and a directory that share the
  same parent directory", section "Pathnames").
- "The following characters are not allowed: `" \\ / : | < > * ?`" (`/` separates components).
- "control characters (0x00 to 0x1F, \\u0081, etc.) are also not allowed": we refuse every control
  character (Unicode category Cc: C0, DEL, C1); which ones beyond 0x00-0x1F and U+0081 the
  service refuses is not documented.
- "Invalid Unicode characters (known as invalid surrogate pairs) are not supported": a name that
  is not UTF-8 (decoded with `surrogateescape`) cannot even be sent.
- "The following file names are not allowed: LPT1 ... LPT9, COM1 ... COM9, PRN, AUX, NUL, CON,
  CLOCK$" (and `.`/`..`, which no local file is called); compared without case.
- "component names must be no more than 255 characters in length" (counted here in UTF-16 code
  units, as Windows and SMB count; a Linux name of at most 255 bytes always fits).
Not checked: private-use code points (the page's `\\uE000` example; its extent is not documented)
and the total path length.

The same rules apply whatever the target: the local target rehearses the cloud run, so a
workspace it syncs must also sync to Azure Files. How the service folds case beyond ASCII is not
documented; `fold` upper-cases each character on its own (as NTFS's upcase table does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cli.errors import UsageError

MAX_COMPONENT = 255
_FORBIDDEN = re.compile(r'["\\:|<>*?]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SUSPECT = re.compile(r'["\\:|<>*?\x00-\x1f\x7f-\x9f\ud800-\udfff]')  # any of the three above
_RESERVED = frozenset(
    {
        "PRN",
        "AUX",
        "NUL",
        "CON",
        "CLOCK$",
        *(f"{d}{i}" for d in ("LPT", "COM") for i in range(1, 10)),
    }
)


def fold(path: str) -> str:
    """`path` as a case-insensitive share compares it: each character upper-cased on its own
    (so the result has the same length, and a folder's fold is a prefix of its files')."""
    upper = path.upper()
    if len(upper) == len(path):
        return upper
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in path)


def name_problem(component: str, *, is_file: bool) -> str | None:
    """Why Azure Files refuses one path component, or None."""
    if _SURROGATE.search(component):
        return "not valid UTF-8"
    if m := _FORBIDDEN.search(component):
        return f"'{m[0]}' is not allowed"
    if m := _CONTROL.search(component):
        return f"control character U+{ord(m[0]):04X} is not allowed"
    if is_file and component.upper() in _RESERVED:
        return "a reserved name"
    if len(component.encode("utf-16-le")) // 2 > MAX_COMPONENT:
        return f"longer than {MAX_COMPONENT} characters"
    return None


def _problem(path: str) -> str | None:
    """Why the share refuses a name in `path`; cheap for the ordinary path (one regex search)."""
    name = path.rpartition("/")[2]
    if not (
        _SUSPECT.search(path)
        or (len(name) <= 6 and name.upper() in _RESERVED)
        or len(path) > MAX_COMPONENT // 2
    ):
        return None
    parts = path.split("/")
    for i, part in enumerate(parts):
        why = name_problem(part, is_file=i == len(parts) - 1)
        if why is not None:
            return why if i == len(parts) - 1 else f"folder '{part}': {why}"
    return None


def path_problems(paths: Iterable[str]) -> dict[str, str]:
    """Workspace file paths (posix, relative) the share cannot hold -> why.

    A path whose name, or one of whose folders, differs only in case from another path's is
    reported with the other spelling."""
    files = sorted(paths)
    problems: dict[str, str] = {}
    first: dict[str, str] = {}  # folded name (files and folders) -> the first spelling seen
    twins: dict[str, set[str]] = {}  # folded name -> its spellings, where there are several
    folders: set[str] = set()

    def note(folded: str, spelling: str) -> None:
        seen = first.setdefault(folded, spelling)
        if seen != spelling:
            twins.setdefault(folded, {seen}).add(spelling)

    for path in files:
        why = _problem(path)
        if why is not None:
            problems[path] = why
        folded = fold(path)
        note(folded, path)
        folder = path.rpartition("/")[0]
        while folder and folder not in folders:  # each folder once (files are sorted)
            folders.add(folder)
            note(folded[: len(folder)], folder)
            folder = folder.rpartition("/")[0]
    for same in twins.values():
        for path in files:
            mine = [s for s in same if _is_under(path, s)]
            if mine:
                other = min(s for s in same if s not in mine)
                problems.setdefault(path, f"same name as '{other}' on a case-insensitive share")
    return problems


def check_names(paths: Iterable[str], *, shown: int = 20) -> None:
    """Raise a usage error naming the workspace files the share cannot hold (before any upload)."""
    problems = path_problems(paths)
    if not problems:
        return
    listed = "; ".join(f"'{p}': {why}" for p, why in sorted(problems.items())[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    raise UsageError(
        f"{len(problems)} file name(s) the share cannot hold (Azure Files refuses "
        f'" \\ : | < > * ? and control characters, and ignores case): {listed}{more}',
        hint="rename them, or add them to .ftkignore; nothing was uploaded",
    )


def _is_under(path: str, spelling: str) -> bool:
    return path == spelling or path.startswith(spelling + "/")


def case_twins(stale: Iterable[str], local: Iterable[str]) -> set[str]:
    """Paths of `stale` that name, on a case-insensitive share, the same file as one of `local`
    (a case-only rename): deleting them there would delete the file just uploaded."""
    kept = {fold(p) for p in local}
    return {p for p in stale if fold(p) in kept}
