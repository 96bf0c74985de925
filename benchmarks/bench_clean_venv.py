"""Benchmark: ``repair --clean-venv`` (which brings back the old venv's working set, every
distribution at its version) against what a user would do by hand for the same pinned set:
virtualenv + ``pip install -r`` of the venv's ``pip freeze``, and ``uv venv`` + ``uv pip install
-r`` (against ``repair --clean-venv --installer uv``); 200 small distributions whose wheels are
already local, warm caches. Goals: faster than plain pip, within 1.5x of uv. Also backup by
rename on a 50 MB and a 5 GB venv (sparse files).

Standalone: ``python benchmarks/bench_clean_venv.py [--n 200] [--repeat 5] [--before DIR]``.
Needs virtualenv and uv (on PATH or beside this interpreter). The variants run in turn, round
after round, and the medians are compared. ``--before DIR`` times the repair from another
checkout of the tool too (an older commit), in the same rounds. The tool's own modules are
compiled to bytecode first, as an installed tool's are. Offline: the machine's pip/uv
configuration is ignored.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repair.env.packages import find_uv  # noqa: E402
from tests.kit import build_wheel, pip_env  # noqa: E402


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def best(times: list[float]) -> float:
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout of the tool, timed in the same rounds",
    )
    parser.add_argument("--big-gb", type=float, default=5.0)
    args = parser.parse_args()
    uv = find_uv()
    if uv is None:
        raise SystemExit("uv not found")
    work = Path(tempfile.mkdtemp(prefix="bench-clean-venv-"))
    try:
        wheels = work / "wheels"
        for i in range(args.n):
            files = {
                f"bench_pkg_{i:03d}/__init__.py": f"VALUE = {i}\n" + "# pad\n" * 200,
                f"bench_pkg_{i:03d}/core.py": "def f():\n    return 1\n" * 50,
            }
            build_wheel(wheels, f"bench-pkg-{i:03d}", "1.0.0", files=files)
        app = work / "app"
        app.mkdir()
        reqs = app / "requirements.txt"
        reqs.write_text("".join(f"bench-pkg-{i:03d}==1.0.0\n" for i in range(args.n)))
        env = pip_env(
            wheels, extra={"UV_CACHE_DIR": str(work / "uv-cache"), "PYTHONPATH": str(ROOT)}
        )
        env.pop("PIP_NO_CACHE_DIR", None)
        py = sys.executable
        trees = {"": ROOT}
        if args.before is not None:
            trees[" (before)"] = args.before.resolve()
        for tree in trees.values():  # bytecode of the tool itself, as an installed tool has
            timed([py, "-m", "compileall", "-q", str(tree / "repair")], env)
        # The app's venv, and warm caches (pip's http cache is not used: wheels are local).
        timed([py, "-m", "virtualenv", "-q", "--no-periodic-update", str(app / "venv")], env)
        timed(
            [
                uv,
                "pip",
                "install",
                "--python",
                str(app / "venv" / "bin" / "python"),
                "-r",
                str(reqs),
                "--no-index",
                "--find-links",
                str(wheels),
            ],
            env,
        )
        # The same pinned set, as a user would write it down: the venv's own pip freeze.
        frozen = subprocess.run(
            [str(app / "venv" / "bin" / "python"), "-m", "pip", "freeze"],
            env={k: v for k, v in env.items() if k != "PYTHONPATH"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        pins = work / "pinned.txt"
        pins.write_text(frozen)

        variants = [(f"repair --clean-venv{label}", tree, []) for label, tree in trees.items()]
        variants += [
            (f"repair --clean-venv --installer uv{label}", tree, ["--installer", "uv"])
            for label, tree in trees.items()
        ]
        results: dict[str, list[float]] = {
            k: []
            for k in (
                "virtualenv + pip install -r pins",
                "uv venv + uv pip install -r pins",
                *(v[0] for v in variants),
            )
        }
        for n in range(args.repeat):
            fresh = work / f"fresh-pip-{n}"
            results["virtualenv + pip install -r pins"].append(
                timed([py, "-m", "virtualenv", "-q", "--no-periodic-update", str(fresh)], env)
                + timed(
                    [
                        str(fresh / "bin" / "python"),
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        "--no-compile",
                        "-r",
                        str(pins),
                    ],
                    env,
                )
            )
            fresh = work / f"fresh-uv-{n}"
            results["uv venv + uv pip install -r pins"].append(
                timed([uv, "venv", "-q", str(fresh)], env)
                + timed(
                    [
                        uv,
                        "pip",
                        "install",
                        "-q",
                        "--python",
                        str(fresh / "bin" / "python"),
                        "-r",
                        str(pins),
                        "--no-index",
                        "--find-links",
                        str(wheels),
                    ],
                    env,
                )
            )
            for key, tree, extra in variants:
                results[key].append(
                    timed(
                        [py, "-m", "repair", "--clean-venv", "--yes", "--dir", str(app), *extra],
                        {**env, "PYTHONPATH": str(tree)},
                        cwd=tree,
                    )
                )
        print(f"{args.n} distributions, wheels local, median of {args.repeat} (seconds):")
        for key, times in results.items():
            print(f"  {key:<47} {best(times):7.2f}  (best {min(times):.2f})")
        pip_t = best(results["virtualenv + pip install -r pins"])
        uv_t = best(results["uv venv + uv pip install -r pins"])
        rp = best(results["repair --clean-venv"])
        print(f"  ratio repair(pip) / virtualenv + pip   {rp / pip_t:5.2f}  (goal: below 1)")
        print(
            f"  ratio repair(uv)  / uv venv + uv pip   "
            f"{best(results['repair --clean-venv --installer uv']) / uv_t:5.2f}  "
            "(goal: 1.5 at most)"
        )
        if args.before is not None:
            print(
                f"  ratio before: repair(pip) {best(results[variants[1][0]]) / pip_t:5.2f}, "
                f"repair(uv) {best(results[variants[3][0]]) / uv_t:5.2f}"
            )

        # Backup by rename: the same for 50 MB and for 5 GB.
        from repair.app.target import resolve
        from repair.backup.restore import restore_backup  # noqa: F401
        from repair.backup.store import create_backup
        from repair.context import Context

        sizes = (("50 MB", 50 << 20), (f"{args.big_gb:g} GB", int(args.big_gb * (1 << 30))))
        for label, size in sizes:
            big = work / f"app-{label.replace(' ', '')}"
            big.mkdir()
            (big / "requirements.txt").write_text("")
            venv = big / "venv"
            shutil.copytree(app / "venv", venv, symlinks=True)
            blob = venv / "lib" / "blob.bin"
            with open(blob, "wb") as f:
                f.truncate(size)  # sparse: the size is what a rename must not care about
            times = []
            for _ in range(args.repeat):
                ctx = Context(resolve(str(big), None, "generic"))
                started = time.perf_counter()
                info = create_backup(ctx, move_venv=True)
                times.append(time.perf_counter() - started)
                assert info.venv_path is not None
                os.rename(info.venv_path, venv)  # put it back for the next round
            print(
                f"  backup by rename, {label:<8} venv: {best(times) * 1000:7.1f} ms "
                "(snapshot included)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
