"""`python -m bootstrap env LOCK [--root DIR]`: print the site folder of LOCK's dependency set.

Run by the job's and the app's command lines (contract.commands) from the share's root; the
caller puts the printed folder on PYTHONPATH. Progress goes to stderr, prefixed by the
`preparing-environment` phase line (contract.phases); stdout holds only the folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bootstrap.envs import BuildError, ensure
from contract.env import LOCAL_ENVS, PREBUILT_ENVS
from contract.exit_codes import ExitCode
from contract.layout import ENVS_DIR
from contract.phases import Phase, phase_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap")
    sub = parser.add_subparsers(dest="command", required=True)
    env = sub.add_parser("env", help="build (once) or reuse LOCK's dependency set")
    env.add_argument("lock", type=Path)
    env.add_argument("--root", type=Path, default=Path(ENVS_DIR), help=f"default: {ENVS_DIR}")
    args = parser.parse_args(argv)
    print(phase_line(Phase.PREPARING, args.lock.name), file=sys.stderr, flush=True)
    prebuilt = os.environ.get(PREBUILT_ENVS)
    local = os.environ.get(LOCAL_ENVS)
    try:
        site = ensure(
            args.lock,
            args.root,
            prebuilt=Path(prebuilt) if prebuilt else None,
            local=Path(local) if local else None,
        )
    except (BuildError, OSError) as exc:  # one line after pip's own message, not a traceback
        print(
            f"bootstrap: cannot prepare the environment of {args.lock.name}: {exc}; "
            "nothing was published (the next start tries again)",
            file=sys.stderr,
        )
        return ExitCode.FAILED
    print(site.resolve())
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
