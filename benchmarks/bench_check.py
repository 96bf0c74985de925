"""Benchmark: ``repair check --json`` against ``pip check`` and ``uv pip check`` on one venv of
200 distributions, and ``--verify-files`` throughput against ``cat`` reading the same files.

Runs alternate (A, B, C, A, B, C, ...) in one process; medians are reported with ratios.

    python benchmarks/bench_check.py [--dists 200] [--rounds 7] [--big-mb 400]
"""

from __future__ import annotations

import argparse
import json
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

from repair.env.wheelkit import build_wheel, unpack_wheel  # noqa: E402


def isolated_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
    )
    return env


def build(root: Path, n: int, big_mb: int) -> Path:
    app = root / "app"
    app.mkdir()
    venv = app / "venv"
    subprocess.run(
        [sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update", str(venv)],
        check=True,
        env=isolated_env(),
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    wheels = root / "wheels"
    reqs = []
    big_each = (big_mb << 20) // 20 if big_mb else 0
    for i in range(n):
        name = f"bench-pkg-{i:03d}"
        deps = [f"bench-pkg-{j:03d}>=1.0" for j in (i - 1, i - 7, i - 31) if j >= 0]
        mod = name.replace("-", "_")
        files: dict[str, str | bytes] = {f"{mod}/__init__.py": "VALUE = 1\n"}
        for k in range(20):  # ~20 modules a distribution, like a real package
            files[f"{mod}/sub/m{k}.py"] = f"X = {k}\n" * 50
        if big_each and i % 10 == 0:
            files[f"{mod}/lib/native.so"] = os.urandom(big_each)
        wheel = build_wheel(
            wheels, name, "1.0", requires=deps + ['colorama; os_name == "nt"'], files=files
        )
        unpack_wheel(wheel, site)
        reqs.append(f"{name}>=1.0")
    (app / "requirements.txt").write_text("\n".join(reqs) + "\n")
    return app


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dists", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--big-mb", type=int, default=400)
    args = ap.parse_args()
    env = isolated_env()
    uv = shutil.which("uv")
    with tempfile.TemporaryDirectory() as tmp:
        app = build(Path(tmp), args.dists, args.big_mb)
        venv = app / "venv"
        python = str(venv / "bin" / "python")
        cmds = {
            "repair check --json": [
                sys.executable,
                "-m",
                "repair",
                "check",
                "--json",
                "--dir",
                str(app),
            ],
            "pip check": [python, "-m", "pip", "check"],
        }
        if uv:
            cmds["uv pip check"] = [uv, "pip", "check", "--python", python]
        out = subprocess.run(cmds["repair check --json"], capture_output=True, text=True, env=env)
        report = json.loads(out.stdout)
        assert report["summary"]["healthy"], report["findings"][:3]
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for name, cmd in cmds.items():
                times[name].append(timed(cmd, env))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"venv: {args.dists} distributions; median of {args.rounds} alternating runs")
        for name, t in med.items():
            print(f"  {name:<22} {t * 1000:8.1f} ms")
        base = med["repair check --json"]
        print(f"  pip check / repair check   = {med['pip check'] / base:5.2f}x (goal >= 5x)")
        if uv:
            ratio = base / med["uv pip check"]
            print(f"  repair check / uv pip check = {ratio:5.2f}x (goal <= 4x)")

        # --verify-files throughput vs cat on the same files
        site = next((venv / "lib").glob("python3*/site-packages"))
        files = [str(p) for p in site.rglob("*") if p.is_file()]
        total = sum(os.path.getsize(f) for f in files)
        listing = Path(tmp) / "files.txt"
        listing.write_text("\0".join(files))
        cat = ["sh", "-c", f"xargs -0 cat < {listing} > /dev/null"]
        verify = cmds["repair check --json"] + ["--verify-files"]
        vt: list[float] = []
        ct: list[float] = []
        timed(cat, env)  # warm the page cache
        for _ in range(max(3, args.rounds // 2)):
            ct.append(timed(cat, env))
            vt.append(timed(verify, env))
        v, c = statistics.median(vt), statistics.median(ct)
        mb = total / 1e6
        print(f"verify-files: {len(files)} files, {mb:.0f} MB")
        print(f"  cat          {c * 1000:8.1f} ms  {mb / c:8.0f} MB/s")
        print(
            f"  --verify-files {v * 1000:6.1f} ms  {mb / v:8.0f} MB/s  "
            f"= {c / v:4.2f}x of the cat floor (goal >= 0.8x)"
        )


if __name__ == "__main__":
    main()
