"""Run `FakeAzure` in its own process (so benchmarks do not share a GIL with it).

    python -m testkit.fakes.serve --workdir DIR [--lifetime 1800]

Prints one JSON line (url, ca_file, outputs) on stdout, then serves until stdin closes or the
lifetime passes. Control: POST /_fake/latency?ms=20, POST /_fake/reset, GET /_fake/stats.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from testkit.fakes.azure import FakeAzure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--lifetime", type=float, default=1800.0)
    args = parser.parse_args()
    with FakeAzure(args.workdir, lifetime=args.lifetime) as fake:
        info = {"url": fake.url, "ca_file": fake.server.ca_file, "outputs": fake.outputs()}
        print(json.dumps(info), flush=True)
        sys.stdin.read()  # until the parent closes the pipe (or dies)


if __name__ == "__main__":
    main()
