"""Acceptance run on real installs: real web UI venvs from the package index, healthy and broken
the ways the field breaks them, checked, planned and repaired by the tool.

    python benchmarks/real_installs.py [--only a1111,comfyui] [--cases numpy2,...] [--work DIR]

The installs are built once and cached between runs: A1111 v1.10.1 (Python 3.10, torch 2.1.2 +
torchvision 0.16.2, then its requirements_versions.txt) and ComfyUI (its requirements.txt and
the current torch). The cache is ``WEBUI_REPAIR_REAL`` when set (a folder holding ``a1111/`` and
``comfyui/``, each an app folder with ``venv/`` and a ``build.log`` that ends with ``# done``),
else ``real/`` in the user cache folder (platformdirs). The cached installs are never changed:
each case works on a copy (``cp -a``), deleted afterwards.

Each case: ``repair check --json``, ``repair --dry-run --json``, ``repair --yes --json``, then a
plain check and an import of the broken package in the venv's python. The table says whether the
finding was the right one, the plan the right one, whether the install was repaired (exit 0, no
error left, the import works), and the seconds of check / dry-run / repair.

Building needs git, the network (GitHub and the package index) and ~12 GB of disk; the cases need
the package index (the repair reinstalls from it) and ~7 GB free for one copy at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE_ENV = "WEBUI_REPAIR_REAL"
DONE = "# done"

APPS: dict[str, dict[str, Any]] = {
    "a1111": {
        "url": "https://github.com/AUTOMATIC1111/stable-diffusion-webui",
        "ref": "v1.10.1",
        "python": "3.10",
        "torch": ["torch==2.1.2", "torchvision==0.16.2"],
        "requirements": "requirements_versions.txt",
    },
    "comfyui": {
        "url": "https://github.com/comfyanonymous/ComfyUI",
        "ref": None,
        "python": "3.12",
        "torch": ["torch", "torchvision", "torchaudio"],
        "requirements": "requirements.txt",
    },
}


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("webui-repair", appauthor=False)) / "real"


def ready(app: Path) -> bool:
    log = app / "build.log"
    return (
        (app / "venv").is_dir()
        and log.is_file()
        and log.read_text(errors="replace").rstrip().endswith(DONE)
    )


def find_python(xy: str) -> str:
    """``pythonX.Y`` on PATH (it must say it is X.Y), else a pyenv install of X.Y."""
    path = shutil.which(f"python{xy}")
    if path:
        probe = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == xy:
            return path
    pyenv = Path.home() / ".pyenv" / "versions"
    for cand in sorted(pyenv.glob(f"{xy}.*"), reverse=True):
        exe = cand / "bin" / f"python{xy}"
        if exe.is_file():
            return str(exe)
    raise SystemExit(f"real_installs: no Python {xy} found to build the venv with")


def build(name: str, app: Path) -> None:
    """Clone the app, create its venv, install torch and the requirements; log to build.log."""
    spec = APPS[name]
    if app.exists() and not ready(app):
        shutil.rmtree(app)
    app.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {name} in {app} (once; cached for later runs)", file=sys.stderr)
    clone = ["git", "clone", "-q", "--depth", "1"]
    if spec["ref"]:
        clone += ["--branch", spec["ref"]]
    subprocess.run([*clone, spec["url"], str(app)], check=True)
    log = (app / "build.log").open("a")
    python = find_python(spec["python"])
    subprocess.run([python, "-m", "venv", str(app / "venv")], check=True, stdout=log, stderr=log)
    vpy = str(app / "venv" / "bin" / "python")
    for args in (
        ["-m", "pip", "install", *spec["torch"]],
        ["-m", "pip", "install", "-r", str(app / spec["requirements"])],
    ):
        subprocess.run([vpy, *args], check=True, stdout=log, stderr=log)
    log.write(f"{DONE}\n")
    log.close()


def site_of(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def dist_version(site: Path, name: str) -> str | None:
    for p in site.glob(f"{name}-*.dist-info"):
        return p.name[len(name) + 1 : -len(".dist-info")]
    return None


def wheel(app: Path, spec: str, wheels: Path) -> Path:
    """A wheel for the venv's Python from the package index, kept in the cache."""
    wheels.mkdir(parents=True, exist_ok=True)
    name, _, version = spec.partition("==")
    py = str(app / "venv" / "bin" / "python")
    tag = subprocess.run(
        [py, "-c", "import sys; print('cp%d%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    stem = name.replace("-", "_")
    for w in wheels.glob(f"{stem}-{version}-*.whl"):
        if f"-{tag}-" in w.name or "-abi3-" in w.name or "-none-" in w.name:
            return w
    subprocess.run(
        [
            py,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            str(wheels),
            spec,
        ],
        check=True,
    )
    return wheel(app, spec, wheels)


def extract(whl: Path, site: Path, *, members: Callable[[str], bool]) -> int:
    n = 0
    with zipfile.ZipFile(whl) as zf:
        for info in zf.infolist():
            if info.is_dir() or not members(info.filename):
                continue
            target = site / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.unlink()
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            n += 1
    return n


def other_numpy(site: Path) -> str:
    installed = dist_version(site, "numpy") or "1.26.4"
    return "numpy==1.26.4" if int(installed.split(".")[0]) >= 2 else "numpy==2.2.6"


# -- the cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    what: str
    finding: str | None  # the id that must be there (None: no finding at all)
    subject: str | None
    plan: set[str]  # step kinds the plan must have (empty: an empty plan)
    imports: list[str] = field(default_factory=list)
    breaks: Callable[[Path, Path, Path], None] | None = None  # (app, site, wheels)


def _numpy2_over(app: Path, site: Path, wheels: Path) -> None:
    whl = wheel(app, other_numpy(site), wheels)
    extract(whl, site, members=lambda n: not n.split("/")[0].endswith((".dist-info", ".data")))


def _stride_tricks(app: Path, site: Path, wheels: Path) -> None:
    whl = wheel(app, other_numpy(site), wheels)
    extract(whl, site, members=lambda n: n == "numpy/lib/stride_tricks.py")


def _opencv3(app: Path, site: Path, wheels: Path) -> None:
    py = str(app / "venv" / "bin" / "python")
    base = [py, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check"]
    if not dist_version(site, "opencv_python"):
        subprocess.run([*base, "opencv-python==4.11.0.86"], check=True)
    # What custom nodes each asking for another flavour leave: three dists in one cv2/.
    subprocess.run([*base, "opencv-python-headless==4.10.0.84"], check=True)
    subprocess.run([*base, "opencv-contrib-python==4.11.0.86"], check=True)


def _two_dist_infos(app: Path, site: Path, wheels: Path) -> None:
    whl = wheel(app, other_numpy(site), wheels)
    extract(whl, site, members=lambda n: n.split("/")[0].endswith(".dist-info"))


def _tilde(app: Path, site: Path, wheels: Path) -> None:
    shutil.copytree(site / "numpy", site / "~umpy", symlinks=True)


CASES = [
    Case("healthy", "the install as built", None, None, set(), ["numpy"]),
    Case(
        "numpy2",
        "numpy files of another major version laid over the installed one",
        "mixed-version",
        "numpy",
        {"purge", "reinstall"},
        ["numpy"],
        _numpy2_over,
    ),
    Case(
        "stride",
        "only numpy/lib/stride_tricks.py of the other numpy",
        "mixed-version",
        "numpy",
        {"purge", "reinstall"},
        ["numpy"],
        _stride_tricks,
    ),
    Case(
        "opencv3",
        "opencv-python, -headless and -contrib in one cv2/",
        "shared-files",
        None,
        {"purge", "reinstall"},
        ["cv2"],
        _opencv3,
    ),
    Case(
        "dupmeta",
        "two .dist-info folders for numpy",
        "duplicate-distribution",
        "numpy",
        {"purge", "reinstall"},
        ["numpy"],
        _two_dist_infos,
    ),
    Case(
        "tilde",
        "a ~umpy folder of an interrupted upgrade",
        "stale-residue",
        "~umpy",
        {"remove"},
        ["numpy"],
        _tilde,
    ),
]


def tool(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any], float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "repair", *args], capture_output=True, text=True, env=env, cwd=cwd
    )
    seconds = time.monotonic() - started
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        data = {"raw": proc.stdout[-2000:]}
    if proc.returncode not in (0, 1, 3):
        data.setdefault("stderr", proc.stderr[-2000:])
    return proc.returncode, data, seconds


def errors(report: dict[str, Any]) -> list[str]:
    return [
        f"{f['id']}:{f['subject']}"
        for f in report.get("findings", [])
        if f.get("severity") == "error"
    ]


def run_case(name: str, app: Path, case: Case, work: Path, wheels: Path) -> dict[str, Any]:
    copy = work / f"{name}-{case.name}"
    if copy.exists():
        shutil.rmtree(copy)
    started = time.monotonic()
    subprocess.run(["cp", "-a", str(app), str(copy)], check=True)
    copy_s = time.monotonic() - started
    row: dict[str, Any] = {"install": name, "case": case.name, "copy_s": round(copy_s, 1)}
    try:
        site = site_of(copy / "venv")
        if case.breaks is not None:
            case.breaks(copy, site, wheels)
        code, report, row["check_s"] = tool("check", "--json", "--dir", str(copy))
        found = report.get("findings", [])
        if case.finding is None:
            row["finding_ok"] = code == 0 and found == []
        else:
            row["finding_ok"] = code == 1 and any(
                f["id"] == case.finding and (case.subject is None or f["subject"] == case.subject)
                for f in found
            )
        row["found"] = sorted({f["id"] for f in found})
        code, dry, row["dry_s"] = tool("--dry-run", "--json", "--dir", str(copy))
        kinds = {s["kind"] for s in dry.get("plan", [])}
        row["plan"] = sorted(kinds)
        row["plan_ok"] = kinds == case.plan if not case.plan else case.plan <= kinds
        code, done, row["repair_s"] = tool("--yes", "--json", "--dir", str(copy))
        row["repair_exit"] = code
        left = errors(done)
        _, after, _ = tool("check", "--json", "--dir", str(copy))
        left_after = errors(after)
        py = copy / "venv" / "bin" / "python"
        imp = (
            subprocess.run(
                [str(py), "-c", "import " + ", ".join(case.imports)], capture_output=True, text=True
            )
            if case.imports
            else None
        )
        row["import_ok"] = imp is None or imp.returncode == 0
        row["repaired"] = code == 0 and not left and not left_after and row["import_ok"]
        if not row["repaired"]:
            row["left"] = left or left_after
            row["detail"] = (
                done.get("error")
                or done.get("stderr")
                or (imp.stderr.strip().splitlines()[-1:] if imp and imp.returncode else "")
            )
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    def yn(v: Any) -> str:
        return "yes" if v else "NO"

    head = (
        "install",
        "case",
        "finding right",
        "plan right",
        "repaired",
        "check s",
        "dry-run s",
        "repair s",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    r["install"],
                    r["case"],
                    yn(r.get("finding_ok")),
                    yn(r.get("plan_ok")),
                    yn(r.get("repaired")),
                    f"{r.get('check_s', 0):.2f}",
                    f"{r.get('dry_s', 0):.2f}",
                    f"{r.get('repair_s', 0):.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="a1111,comfyui", help="installs, comma-separated")
    ap.add_argument(
        "--cases", default=",".join(c.name for c in CASES), help="cases, comma-separated"
    )
    ap.add_argument(
        "--work",
        default=None,
        help="where the copies go (default: a temp folder beside the cache, on its filesystem)",
    )
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    root = cache_root()
    wanted = [c for c in CASES if c.name in args.cases.split(",")]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="real-installs-"))
    work.mkdir(parents=True, exist_ok=True)
    from platformdirs import user_cache_dir

    wheels = Path(user_cache_dir("webui-repair", appauthor=False)) / "real-wheels"
    rows = []
    try:
        for name in args.only.split(","):
            app = root / name
            if not ready(app):
                build(name, app)
            for case in wanted:
                print(f"{name}: {case.name}: {case.what}", file=sys.stderr)
                row = run_case(name, app, case, work, wheels)
                print("  " + json.dumps(row), file=sys.stderr)
                rows.append(row)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    ok = all(r.get("finding_ok") and r.get("plan_ok") and r.get("repaired") for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
