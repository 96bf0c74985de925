"""Hash every file that RECORD lists and compare (``check --verify-files``).

Hashing runs in threads (hashlib releases the GIL on large buffers), biggest files first so the
pool ends together, with a byte-counting progress bar.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from repair.env.dists import MetadataError
from repair.saferead import open_regular

if TYPE_CHECKING:
    from repair.env.dists import Dist
    from repair.progress import Reporter

_CHUNK = 1 << 20  # hashlib releases the GIL on buffers over 2 kB


@dataclass
class VerifyResult:
    mismatched: dict[str, list[str]] = field(default_factory=dict)  # dist folder -> rel paths
    dists: dict[str, Dist] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)


_local = threading.local()


def _digest(path: str, algo: str) -> tuple[str, int]:
    h = hashlib.new(algo)
    size = 0

    with os.fdopen(open_regular(path), "rb", buffering=0) as f:
        first = f.read(_CHUNK)  # most files end here: no buffer to allocate
        h.update(first)
        size = len(first)
        if size == _CHUNK:
            buf = getattr(_local, "buf", None)
            if buf is None:  # one reusable buffer per thread for big files
                buf = _local.buf = bytearray(_CHUNK)
            view = memoryview(buf)
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
                size += n
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii"), size


def verify_hashes(
    site: Path,
    dists: list[Dist],
    existing: set[str],
    reporter: Reporter,
    workers: int | None = None,
) -> VerifyResult:
    """Compare each existing RECORD-listed file with its hash. Missing files are left to the
    ``missing-file`` check."""
    nt = os.name == "nt"
    jobs: list[tuple[str, str, str, str, int, Dist]] = []  # abs, rel, algo, expected, size, dist
    for dist in dists:
        try:
            entries = dist.record
        except MetadataError:
            continue
        for entry in entries:
            if not entry.hash or "=" not in entry.hash:
                continue
            algo, _, expected = entry.hash.partition("=")
            if algo not in hashlib.algorithms_available:
                continue
            rel = entry.path.replace("\\", "/")
            key = rel.lower() if nt else rel
            absolute = os.path.normpath(os.path.join(site, rel))
            if not key.startswith("../") and key not in existing:
                continue
            if key.startswith("../") and not os.path.isfile(absolute):
                continue
            jobs.append((absolute, rel, algo, expected, entry.size or 0, dist))
    jobs.sort(key=lambda j: -j[4])
    total = sum(j[4] for j in jobs)
    result = VerifyResult()

    def work(job: tuple[str, str, str, str, int, Dist]) -> tuple[bool, int]:
        absolute, _rel, algo, expected, _size, _dist = job
        try:
            actual, size = _digest(absolute, algo)
        except OSError:
            return False, 0
        return actual == expected, size

    hashed_bytes = 0
    n = workers or min(32, (os.cpu_count() or 2) * 2)
    with (
        reporter.progress("verifying files", total, unit="B") as bar,
        ThreadPoolExecutor(max_workers=n) as pool,
    ):
        for job, (ok, size) in zip(jobs, pool.map(work, jobs, chunksize=16), strict=True):
            hashed_bytes += size
            bar.advance(size or job[4])
            if not ok:
                dist = job[5]
                result.mismatched.setdefault(dist.path.name, []).append(job[1])
                result.dists[dist.path.name] = dist
    result.stats = {"files": len(jobs), "bytes": hashed_bytes}
    return result
