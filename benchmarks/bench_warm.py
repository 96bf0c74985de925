"""Benchmark: ``repair check`` cold and warm (the check's cache), the launch guard cold and warm,
against ``pip check`` and ``uv pip check``, on one install (a real one: ``--dir``).

Runs alternate (A, B, C, ..., A, B, C, ...) in one process; medians are reported with ratios.
"Cold" is an empty check cache (the files themselves are in the page cache for every tool);
"warm" is the cache left by the run before. ``uv`` is used when it is on PATH or given with
``--uv``, else its column is left out.

    python benchmarks/bench_warm.py --dir PATH [--venv PATH] [--rounds 9] [--uv PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


sys.path.insert(0, str(ROOT))

from benchmarks.bench_check import isolated_env, timed  # noqa: E402


def cpu_of(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run: on a shared, loaded machine the
    CPU time is the steadier figure."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def env_for(cache: Path | str) -> dict[str, str]:
    return {**isolated_env(), "WEBUI_REPAIR_CACHE_DIR": str(cache)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="the install (app folder)")
    ap.add_argument("--venv", default=None, help="its venv (default: DIR/venv)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--uv", default=shutil.which("uv"), help="a uv binary (default: on PATH)")
    args = ap.parse_args()
    app = Path(args.dir).resolve()
    venv = Path(args.venv).resolve() if args.venv else app / "venv"
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    # An installed tool has its bytecode; a checkout run with PYTHONDONTWRITEBYTECODE has not.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "repair")],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
        stdout=subprocess.DEVNULL,
    )
    tool = [sys.executable, "-m", "repair"]
    target = ["--dir", str(app), "--venv", str(venv)]
    with tempfile.TemporaryDirectory() as tmp:
        warm_cache = Path(tmp) / "warm"
        cmds: dict[str, tuple[list[str], str]] = {
            "repair check (cold)": ([*tool, "check", "--json", *target], "cold"),
            "repair check (warm)": ([*tool, "check", "--json", *target], "warm"),
            "guard run (cold)": ([*tool, "guard", "run", *target], "cold"),
            "guard run (warm)": ([*tool, "guard", "run", *target], "warm"),
            "python -c pass": ([sys.executable, "-c", "pass"], "warm"),
            "pip check": ([python, "-m", "pip", "check"], "warm"),
        }
        if args.uv:
            cmds["uv pip check"] = ([args.uv, "pip", "check", "--python", python], "warm")
        for cmd, _ in cmds.values():  # warm the page cache and the check cache
            subprocess.run(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env_for(warm_cache)
            )
        times: dict[str, list[float]] = {name: [] for name in cmds}
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        for n in range(args.rounds):
            for name, (cmd, kind) in cmds.items():
                cache = warm_cache if kind == "warm" else Path(tmp) / f"cold-{n}-{len(name)}"
                wall, used = cpu_of(cmd, env_for(cache))
                times[name].append(wall)
                cpu[name].append(used)
    med = {name: statistics.median(v) for name, v in times.items()}
    med_cpu = {name: statistics.median(v) for name, v in cpu.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{app} ({venv}), {args.rounds} rounds, {os.cpu_count()} cores, load {load:.1f}, "
        "medians (wall, CPU):"
    )
    for name, value in med.items():
        print(f"  {name:22s} {value * 1000:8.1f} ms  {med_cpu[name] * 1000:8.1f} ms CPU")
    pip = med["pip check"]
    print("ratios:")
    for name in ("repair check (cold)", "repair check (warm)", "guard run (warm)"):
        line = f"  {name:22s} {pip / med[name]:5.1f}x faster than pip check"
        if "uv pip check" in med:
            line += f", {med[name] / med['uv pip check']:5.1f}x uv pip check's time"
        print(line)
    added = med["guard run (warm)"]
    print(
        f"  the guard adds {added * 1000:.0f} ms to a launch "
        f"({(added - med['python -c pass']) * 1000:.0f} ms over a bare python start-up; "
        f"{med_cpu['guard run (warm)'] * 1000:.0f} ms of CPU)"
    )


if __name__ == "__main__":
    main()
