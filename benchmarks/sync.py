"""Sync benchmark: ftk's incremental sync to Azure Files (the loopback fake) vs. the plain SDK.

    python benchmarks/sync.py                       # 2,000 files, ~200 MB, 20 ms per request
    python benchmarks/sync.py --files 300 --mb 30   # smaller, for a quick check

Three measurements, the fake running in its own process with the injected latency:
1. first sync of the workspace with ftk's sync engine (`cli.sync.engine.sync`) through
   `AzureTarget.share()` (parallel uploads, temporary name + rename per file);
2. a no-op re-sync: must upload 0 bytes; its own work (CPU time of this process) is printed;
3. a sequential upload of the same files with the plain azure-storage-file-share SDK
   (`ShareFileClient.upload_file`, directories created once), into an emptied share.
Prints the ratio (3) / (1); the target is >= 8x at 20 ms latency.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path, PurePosixPath
from ssl import create_default_context

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_workspace(root: Path, files: int, total_mb: float, seed: int = 7) -> int:
    """`files` files in nested folders, mixed sizes (many small, some medium, a few large)."""
    rng = random.Random(seed)
    budget = int(total_mb * 1024 * 1024)
    weights = []
    for i in range(files):
        kind = i % 100
        if kind < 80:
            weights.append(rng.uniform(0.2, 2.0))  # small: code, configs, jsonl shards
        elif kind < 97:
            weights.append(rng.uniform(10, 40))  # medium
        else:
            weights.append(rng.uniform(150, 400))  # large: data files
    scale = budget / sum(weights)
    total = 0
    for i, weight in enumerate(weights):
        size = max(1, int(weight * scale))
        path = root / f"dir{i % 8}" / f"sub{i % 5}" / f"file{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        total += size
    return total


class FakeProcess:
    """The fake in a child process; stops when this process closes its stdin."""

    def __init__(self, workdir: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testkit.fakes.serve", "--workdir", str(workdir)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline())
        self.url: str = self.info["url"]
        self._ssl = create_default_context(cafile=self.info["ca_file"])

    def control(self, action: str, **query: object) -> dict:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        request = urllib.request.Request(f"{self.url}/_fake/{action}?{params}", method="POST")
        with urllib.request.urlopen(request, context=self._ssl) as response:
            return json.loads(response.read())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def connection(fake: FakeProcess):  # type: ignore[no-untyped-def]
    from cli.targets.azure.clients import AzureConnection
    from testkit.fakes.azure import FakeCredential

    credential = FakeCredential()
    return AzureConnection(
        arm_endpoint=fake.url,
        storage_endpoint=f"{fake.url}/{{account}}",
        logs_endpoint=fake.url,
        connection_verify=fake.info["ca_file"],
        credential_factory=lambda: credential,
        retry_backoff_factor=0.0,
        polling_interval=0.0,
    )


def plain_sdk_upload(fake: FakeProcess, root: Path, rel_paths: list[str]) -> None:
    """The baseline: one file after the other with the SDK's own upload_file."""
    from azure.storage.fileshare import ShareClient

    outputs = fake.info["outputs"]
    account = outputs["STORAGE_ACCOUNT_NAME"]
    key = "ZmFrZS1hY2NvdW50LWtleS1mb3ItdGVzdHMtb25seQ=="
    share = ShareClient(
        f"{fake.url}/{account}",
        outputs["FILE_SHARE_NAME"],
        credential={"account_name": account, "account_key": key},
        connection_verify=fake.info["ca_file"],
    )
    made: set[str] = {""}
    for rel in rel_paths:
        parts = PurePosixPath(rel).parent.parts
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i])
            if folder not in made:
                share.get_directory_client(folder).create_directory()
                made.add(folder)
        with (root / rel).open("rb") as handle:
            share.get_file_client(rel).upload_file(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--mb", type=float, default=200.0, help="total workspace size")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every request")
    parser.add_argument("--workers", type=int, default=None, help="default: the share's hint")
    args = parser.parse_args()

    from cli.sync.engine import share_workers, sync
    from cli.targets.azure import AzureTarget

    with tempfile.TemporaryDirectory(prefix="ftk-bench-") as tmp:
        tmp_path = Path(tmp)
        workspace = tmp_path / "ws"
        total = make_workspace(workspace, args.files, args.mb)
        rel_paths = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*.bin"))
        print(f"workspace: {len(rel_paths)} files, {total / 1e6:.1f} MB")
        fake = FakeProcess(tmp_path)
        try:
            # A stat cache from an earlier run must not make the first sync look cheap.
            infra = tmp_path / "outputs.json"  # the outputs as an --infra file
            infra.write_text(json.dumps(fake.info["outputs"]))
            target = AzureTarget.from_infra_files([infra], connection=connection(fake))
            share = target.share()
            workers = share_workers(share, args.workers)
            fake.control("latency", ms=args.latency_ms)

            start = time.perf_counter()
            first = sync(workspace, share, workers=workers)
            t_first = time.perf_counter() - start
            print(
                f"ftk first sync:     {t_first:7.2f} s  ({len(first.uploaded)} files, "
                f"{first.bytes / 1e6:.1f} MB, {workers} workers, {args.latency_ms:g} ms/request)"
            )

            before = fake.control("stats")
            cpu, start = time.process_time(), time.perf_counter()
            again = sync(workspace, share, workers=workers)
            t_noop, cpu_noop = time.perf_counter() - start, time.process_time() - cpu
            after = fake.control("stats")
            print(
                f"ftk no-op re-sync:  {t_noop:7.2f} s  (own work {cpu_noop:.2f} s CPU, "
                f"{again.bytes} bytes, {after['puts'] - before['puts']} writes, "
                f"{after['requests'] - before['requests']} requests)"
            )

            fake.control("reset")
            start = time.perf_counter()
            plain_sdk_upload(fake, workspace, rel_paths)
            t_plain = time.perf_counter() - start
            print(f"plain SDK, in turn: {t_plain:7.2f} s")
            print(f"speed-up of the first sync: {t_plain / t_first:.1f}x (target >= 8x)")
            ok = again.bytes == 0 and not again.uploaded and cpu_noop < 1.0
            print(f"no-op re-sync uploads nothing and stays under 1 s of work: {ok}")
        finally:
            fake.close()


if __name__ == "__main__":
    main()
