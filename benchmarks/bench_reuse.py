"""Benchmark: a new venv given every distribution of an old one by ``rebuild.reuse`` (hard links
from the old venv, nothing downloaded) against ``pip install`` (and ``uv pip install`` with
``--uv``) of the same pinned set from a warm cache.

Use it on a copy of a real venv (the copy is only read; the benchmark checks that it stays byte
for byte as it was, by size and modification time of every file, and by hash with ``--hash``):

    python benchmarks/bench_reuse.py --old COPY_OF_VENV --python PYTHON [--rounds 3] \
        [--pip] [--uv UV] [--hash]

Each reuse round builds a fresh venv with ``PYTHON -m venv --without-pip`` and reuses all the
distributions (pip included); the first round's venv is then checked with
``python -c "import torch, numpy, transformers"`` (each module that is installed) and
``pip check``. ``--pip`` first fills a private pip cache (a download, not timed), then times
``venv`` + ``pip install -r`` of the pinned set from it; ``--uv`` the same with uv's cache.
Medians, with ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repair.env.dists import scan_site  # noqa: E402
from repair.rebuild.reuse import _layout, reuse_distributions  # noqa: E402


def digest(root: Path, hashes: bool) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
            if hashes and os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
    return h.hexdigest()


def run(cmd: list[str], **kw: object) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True, help="a copy of the venv to reuse")
    ap.add_argument("--python", required=True, help="the interpreter for the new venvs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scratch", default=None, help="where to build (same filesystem as --old)")
    ap.add_argument("--pip", action="store_true", help="also time pip install, warm cache")
    ap.add_argument("--uv", default=None, help="also time uv pip install with this uv")
    ap.add_argument("--hash", action="store_true", help="hash the old venv before and after")
    args = ap.parse_args()
    old = Path(args.old).resolve()
    scratch = Path(args.scratch or tempfile.mkdtemp(dir=old.parent, prefix="bench-reuse-"))
    scratch.mkdir(parents=True, exist_ok=True)
    before = digest(old, args.hash)
    keep = sorted((d.name, d.version) for d in scan_site(_layout(old).site).installed().values())
    print(f"{len(keep)} distributions in {old}")
    times: dict[str, list[float]] = {"venv --without-pip": [], "reuse": [], "venv + reuse": []}
    checked = False
    for n in range(args.rounds):
        new = scratch / f"reuse-{n}"
        t_venv = run([args.python, "-m", "venv", "--without-pip", str(new)])
        start = time.perf_counter()
        result = reuse_distributions(old, new, keep)
        t_reuse = time.perf_counter() - start
        times["venv --without-pip"].append(t_venv)
        times["reuse"].append(t_reuse)
        times["venv + reuse"].append(t_venv + t_reuse)
        if n == 0:
            print(
                f"reused {len(result.reused)}, left {len(result.left_to_install)} "
                f"{result.reasons}, {result.files} files, "
                f"{result.bytes_linked / 2**30:.2f} GiB linked, "
                f"{result.bytes_copied / 2**20:.1f} MiB copied, 0 bytes downloaded"
            )
        if not checked:
            python = str(_layout(new).python)
            mods = [
                m
                for m in ("torch", "numpy", "transformers")
                if any(k[0].lower() == m for k in keep)
            ]
            t_import = run([python, "-c", f"import {', '.join(mods)}"])
            out = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
            print(
                f"import {', '.join(mods)}: ok in {t_import:.1f} s; pip check: "
                f"{out.stdout.strip() or out.stderr.strip()} (exit {out.returncode})"
            )
            checked = True
        shutil.rmtree(new)
    frozen = scratch / "pinned.txt"
    frozen.write_text(
        "".join(
            f"{name}=={version}\n"
            for name, version in keep
            if name.lower() not in ("pip", "setuptools", "wheel")
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_NO_CACHE_DIR",)}
    if args.pip:
        env["PIP_CACHE_DIR"] = str(scratch / "pip-cache")
        for label in ("pip install (filling the cache)", "venv + pip install (warm cache)"):
            target = scratch / "pip-venv"
            t = run([args.python, "-m", "venv", str(target)])
            t += run(
                [str(target / "bin" / "pip"), "install", "-q", "-r", str(frozen)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            times[label] = [t]
            shutil.rmtree(target)
    if args.uv:
        env["UV_CACHE_DIR"] = str(scratch / "uv-cache")
        for label in ("uv install (filling the cache)", "uv venv + uv pip install (warm)"):
            target = scratch / "uv-venv"
            t = run([args.uv, "venv", "-q", "--python", args.python, str(target)], env=env)
            t += run(
                [
                    args.uv,
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    str(target / "bin" / "python"),
                    "-r",
                    str(frozen),
                ],
                env=env,
            )
            times[label] = [t]
            shutil.rmtree(target)
    after = digest(old, args.hash)
    print("medians:")
    for label, values in times.items():
        print(f"  {label:34s} {statistics.median(values):8.2f} s  ({len(values)} run(s))")
    base = statistics.median(times["venv + reuse"])
    for label in ("venv + pip install (warm cache)", "uv venv + uv pip install (warm)"):
        if label in times:
            other = times[label][0]
            print(f"  reuse takes {100 * base / other:.1f}% of '{label}' ({other / base:.0f}x)")
    print("old venv unchanged" if before == after else "OLD VENV CHANGED")
    shutil.rmtree(scratch / "pip-cache", ignore_errors=True)
    shutil.rmtree(scratch / "uv-cache", ignore_errors=True)


if __name__ == "__main__":
    main()
