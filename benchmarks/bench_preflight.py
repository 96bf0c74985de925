"""Preflight of a 100-requirement set against a local index, cold and with the cache warm, against
``pip install --dry-run --report - --ignore-installed`` of the same set against the same index.

Standalone: ``python benchmarks/bench_preflight.py [--runs N]``. Builds 100 projects of real
wheels (3 versions each, pure and cp3X/platform wheels), serves them on 127.0.0.1 with
tests/localindex.py (PEP 691 JSON, PEP 503 HTML, PEP 658 metadata, ETags), creates a throwaway
venv with pip (virtualenv), and prints medians and ratios. pip runs isolated (no config file,
no PIP_* variables) with a cache folder of its own: fresh for cold runs, primed for warm runs.
The preflight is timed twice: in-process (what ``repair check --online`` pays) and as a fresh
process (interpreter start-up and imports included, as pip's figure is).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repair import proc  # noqa: E402
from repair.index.config import isolated_config  # noqa: E402
from repair.index.preflight import preflight  # noqa: E402
from tests.localindex import LocalIndex, build_wheel  # noqa: E402

N = 100


def host_target() -> dict[str, str]:
    libc = ""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # not glibc, or Windows
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    return {
        "version": ".".join(map(str, sys.version_info[:3])),
        "sys_platform": sys.platform,
        "platform": sysconfig.get_platform(),
        "libc": libc,
    }


def build(folder: Path) -> list[str]:
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if plat.startswith("linux_"):
        plat = "manylinux_2_17_" + plat[len("linux_") :]
    reqs = []
    for i in range(N):
        name = f"bench-pkg{i:03d}"
        for minor in range(3):
            if i % 3 == 0:
                build_wheel(folder, name, f"1.{minor}", f"{tag}-{tag}-{plat}")
            else:
                build_wheel(folder, name, f"1.{minor}")
        reqs.append(f"{name}>=1.0" if i % 2 else f"{name}==1.1")
    return reqs


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pip_env(cache: Path) -> dict[str, str]:
    env = proc.clean_env(keep_pip=False)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(cache),
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith("PIP_"):
            del os.environ[name]
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    with tempfile.TemporaryDirectory(prefix="bench-preflight-") as tmp:
        work = Path(tmp)
        reqs = build(work / "wheels")
        reqfile = work / "requirements.txt"
        reqfile.write_text("\n".join(reqs) + "\n", encoding="utf-8")
        venv = work / "venv"
        proc.run(
            [sys.executable, "-m", "virtualenv", "-q", "--no-setuptools", "--no-wheel", str(venv)],
            check=True,
            timeout=300,
            env=pip_env(work / "pipcache-x"),
        )
        vpy = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        pip_version = proc.run([vpy, "-m", "pip", "--version"], env=pip_env(work / "x")).stdout
        target = host_target()

        with LocalIndex(work / "wheels") as index:
            cfg = isolated_config(index_url=index.simple())
            counter = [0]

            def cold() -> None:
                counter[0] += 1
                r = preflight(reqs, target, cfg, cache_dir=work / f"cache-cold-{counter[0]}")
                assert len(r.checked) == N and not r.findings, r.to_json()["findings"][:2]

            warm_cache = work / "cache-warm"
            preflight(reqs, target, cfg, cache_dir=warm_cache)

            def warm() -> None:
                r = preflight(reqs, target, cfg, cache_dir=warm_cache)
                assert r.stats["not_modified"] == N, r.stats

            script = (
                "import sys; from repair.index.config import isolated_config; "
                "from repair.index.preflight import preflight; "
                f"r = preflight(open({str(reqfile)!r}).read().split(), {target!r}, "
                f"isolated_config(index_url={index.simple()!r}), cache_dir=__import__("
                "'pathlib').Path(sys.argv[1])); assert len(r.checked) == " + str(N)
            )

            def sub(cache: str) -> None:
                proc.run(
                    [sys.executable, "-c", script, cache],
                    check=True,
                    timeout=120,
                    cwd=ROOT,
                    env=pip_env(work / "unused"),
                )

            def pip(cache: Path) -> None:
                res = proc.run(
                    [
                        vpy,
                        "-m",
                        "pip",
                        "install",
                        "--dry-run",
                        "--report",
                        "-",
                        "--ignore-installed",
                        "-q",
                        "--index-url",
                        index.simple(),
                        "-r",
                        reqfile,
                    ],
                    timeout=600,
                    env=pip_env(cache),
                    check=True,
                )
                report = json.loads(res.stdout)
                assert len(report["install"]) == N, len(report["install"])

            t_cold = median_time(cold, args.runs)
            t_warm = median_time(warm, max(args.runs, 5))
            sub_n = [0]

            def sub_cold() -> None:
                sub_n[0] += 1
                sub(str(work / f"cache-subcold-{sub_n[0]}"))

            t_sub_cold = median_time(sub_cold, args.runs)
            t_sub_warm = median_time(lambda: sub(str(warm_cache)), args.runs)
            pip_n = [0]

            def pip_cold() -> None:
                pip_n[0] += 1
                pip(work / f"pipcache-cold-{pip_n[0]}")

            t_pip_cold = median_time(pip_cold, args.runs)
            pip(work / "pipcache-warm")
            t_pip_warm = median_time(lambda: pip(work / "pipcache-warm"), args.runs)

    print(
        f"requirements: {N}, runs: {args.runs} (medians), python {target['version']} "
        f"{target['platform']}, {pip_version.split(' from ')[0].strip()}"
    )
    rows = [
        ("preflight cold (in-process)", t_cold),
        ("preflight warm (in-process)", t_warm),
        ("preflight cold (fresh process)", t_sub_cold),
        ("preflight warm (fresh process)", t_sub_warm),
        ("pip --dry-run --report cold", t_pip_cold),
        ("pip --dry-run --report warm", t_pip_warm),
    ]
    for label, value in rows:
        print(f"  {label:34s} {value * 1000:8.0f} ms")
    print(
        f"ratio cold: pip / preflight = {t_pip_cold / t_cold:5.1f}x in-process, "
        f"{t_pip_cold / t_sub_cold:5.1f}x fresh process (goal >= 3x)"
    )
    print(
        f"ratio warm: pip / preflight = {t_pip_warm / t_warm:5.1f}x in-process, "
        f"{t_pip_warm / t_sub_warm:5.1f}x fresh process (goal >= 10x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
