"""Sync benchmark: ftk's incremental sync to Azure Files (the loopback fake) vs. the plain SDK.

    python benchmarks/sync.py                 # both shapes + the sequential SDK (~2-3 min)
    python benchmarks/sync.py --no-baseline   # ftk only, for a quick check (~30 s)
    python benchmarks/sync.py --files 300 --mb 30 --small-files 0   # smaller still
    python benchmarks/sync.py --no-baseline --small-files 0 --always-temporary  # in-place's gain

Two workspace shapes, the fake running in its own process with the injected latency (20 ms):
- "mixed": 2,000 files, ~210 MB (80% of 1.5-15 KB, 17% of 80-300 KB, 3% of 1-3 MB);
- "small": 20,000 files, ~200 MB (the same mix scaled down), so the per-file cost shows.
For each: the first sync with ftk's engine (`cli.sync.engine.sync` through `AzureTarget.share()`),
then a no-op re-sync (must send nothing, and stay under 0.1 s of CPU for 2,000 files).
Printed beside each: the storage requests it sent and per file, the latency bound (requests x
latency / requests in flight: what the sync would take with free CPU, network and service), the
share of that bound reached, and this process's CPU seconds per 1,000 files (the fake's own CPU
apart). Then, for the mixed shape, a sequential upload of the same files with the plain
azure-storage-file-share SDK (`ShareFileClient.upload_file`, directories created once) into an
emptied share, and the speed-up (target >= 15x).

Both processes share this machine's cores: on a busy machine every figure is slower and the
ratio to the latency bound means little. Run it alone.
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


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of another process so far (Linux)."""
    import os

    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_shape(
    fake: FakeProcess, tmp: Path, name: str, files: int, mb: float, args: argparse.Namespace
) -> tuple[Path, list[str], float]:
    """First sync and no-op re-sync of one shape; returns (workspace, files, first sync seconds)."""
    from cli.sync.engine import share_workers, sync
    from cli.targets.aca import AzureTarget

    workspace = tmp / name
    total = make_workspace(workspace, files, mb)
    rel_paths = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*.bin"))
    print(f"\n{name}: {len(rel_paths)} files, {total / 1e6:.1f} MB")
    fake.control("latency", ms=0)
    fake.control("reset")
    infra = tmp / "outputs.json"  # the outputs as an --infra file
    infra.write_text(json.dumps(fake.info["outputs"]))
    # A new target per shape, as a new `ftk` process would have (its client, its folders).
    target = AzureTarget.from_infra_files([infra], connection=connection(fake))
    share = target.share()
    share.in_place = not args.always_temporary
    workers = share_workers(share, args.workers)
    share.exists("warm-up")  # the account key (one ARM call) and the first TLS connection
    fake.control("latency", ms=args.latency_ms)
    latency = args.latency_ms / 1000

    before, fake_cpu = fake.control("stats"), _cpu_of(fake.proc.pid)
    cpu, start = time.process_time(), time.perf_counter()
    first = sync(workspace, share, workers=workers)
    t_first, cpu_first = time.perf_counter() - start, time.process_time() - cpu
    after, fake_cpu = fake.control("stats"), _cpu_of(fake.proc.pid) - fake_cpu
    requests = after["storage_requests"] - before["storage_requests"]
    bound = requests * latency / workers
    print(
        f"ftk first sync:     {t_first:7.2f} s  ({len(first.uploaded)} files, "
        f"{first.bytes / 1e6:.1f} MB, {workers} in flight, {args.latency_ms:g} ms/request)"
    )
    for rel in first.refused:  # random bytes can look like a key by chance
        print(f"  refused: {rel} ({first.reasons.get(rel)})")
    print(
        f"  latency bound:    {bound:7.2f} s  ({requests} requests, "
        f"{requests / len(rel_paths):.2f} per file): {bound / t_first:.0%} of the bound reached"
    )
    print(
        f"  CPU:              {cpu_first / len(rel_paths) * 1000:7.2f} s per 1,000 files "
        f"(this process {cpu_first:.2f} s; the fake's own {fake_cpu:.2f} s)"
    )

    before = fake.control("stats")
    cpu, start = time.process_time(), time.perf_counter()
    again = sync(workspace, share, workers=workers)
    t_noop, cpu_noop = time.perf_counter() - start, time.process_time() - cpu
    after = fake.control("stats")
    sent = after["storage_requests"] - before["storage_requests"]
    writes = after["puts"] - before["puts"]
    print(
        f"ftk no-op re-sync:  {t_noop:7.2f} s  ({cpu_noop:.3f} s CPU, "
        f"{cpu_noop / len(rel_paths) * 1000:.3f} s per 1,000 files; {again.bytes} bytes, "
        f"{writes} writes, {sent} request(s): the manifest)"
    )
    ok = again.bytes == 0 and not again.uploaded and writes == 0
    if len(rel_paths) <= 2000:
        print(f"  sends nothing and stays under 0.1 s of CPU: {ok and cpu_noop < 0.1}")
    else:
        print(f"  sends nothing: {ok}")
    target.close()
    return workspace, rel_paths, t_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files of the mixed shape")
    parser.add_argument("--mb", type=float, default=200.0, help="mixed shape size (~210 MB)")
    parser.add_argument("--small-files", type=int, default=20000, help="0: skip that shape")
    parser.add_argument("--small-mb", type=float, default=200.0)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every request")
    parser.add_argument("--workers", type=int, default=None, help="default: the share's hint")
    parser.add_argument("--no-baseline", action="store_true", help="skip the sequential SDK")
    parser.add_argument(
        "--always-temporary",
        action="store_true",
        help="new files too through a temporary and a rename (what writing in place saves)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ftk-bench-") as tmp:
        tmp_path = Path(tmp)
        fake = FakeProcess(tmp_path)
        try:
            workspace, rel_paths, t_first = run_shape(
                fake, tmp_path, "mixed", args.files, args.mb, args
            )
            if args.small_files:
                run_shape(fake, tmp_path, "small", args.small_files, args.small_mb, args)
            if args.no_baseline:
                return
            fake.control("reset")
            fake.control("latency", ms=args.latency_ms)
            start = time.perf_counter()
            plain_sdk_upload(fake, workspace, rel_paths)
            t_plain = time.perf_counter() - start
            print(f"\nplain SDK, in turn (mixed): {t_plain:7.2f} s")
            print(f"speed-up of the first sync: {t_plain / t_first:.1f}x (target >= 15x)")
        finally:
            fake.close()


if __name__ == "__main__":
    main()
