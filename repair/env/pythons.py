"""Find the Pythons on this machine and choose the one a new venv is built on.

Looked for on PATH (``python3.X``, ``python3``, ``python``), through the ``py`` launcher on
Windows (``py -0p``), in pyenv's versions folder, in /usr/bin, /usr/local/bin and /opt/homebrew/bin,
and in Windows' usual folders (``%LOCALAPPDATA%\\Programs\\Python``, ``C:\\PythonXY``).
"""

from __future__ import annotations

import glob
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from repair import proc
from repair.errors import ProcessError, UsageError

_PROBE = (
    "import json, platform, sys; print(json.dumps({'version': platform.python_version(), "
    "'executable': sys.executable, 'implementation': sys.implementation.name, "
    "'bits': 64 if sys.maxsize > 2**32 else 32}))"
)


@dataclass(frozen=True)
class PythonInfo:
    path: Path
    version: str
    implementation: str = "cpython"
    bits: int = 64
    found_in: str = ""

    @property
    def xy(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def describe(self) -> str:
        return f"{self.version} ({self.path})"


def _candidates() -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    windows = os.name == "nt"
    names = [f"python3.{minor}" for minor in range(6, 16)] + ["python3", "python"]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder:
            continue
        for name in names:
            for suffix in (".exe",) if windows else ("",):
                p = Path(folder) / (name + suffix)
                if p.is_file():
                    out.append((p, "PATH"))
    if windows and proc.which("py"):
        try:
            result = proc.run(["py", "-0p"], timeout=10)
            for line in result.stdout.splitlines():
                m = re.search(r"([A-Za-z]:\\.*python[w]?\.exe)\s*$", line.strip(), re.IGNORECASE)
                if m:
                    out.append((Path(m.group(1)), "py launcher"))
        except ProcessError:
            pass
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for found in sorted(glob.glob(str(pyenv_root / "versions" / "*" / "bin" / "python3*"))):
        if re.search(r"python3(\.\d+)?$", found):
            out.append((Path(found), "pyenv"))
    for folder in ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"):
        for name in names[:-1]:
            p = Path(folder) / name
            if p.is_file():
                out.append((p, folder))
    if windows:
        local = os.environ.get("LOCALAPPDATA")
        patterns = [r"C:\Python3*\python.exe", r"C:\Program Files\Python3*\python.exe"]
        if local:
            patterns.append(os.path.join(local, "Programs", "Python", "Python3*", "python.exe"))
        for pattern in patterns:
            out += [(Path(p), "usual folder") for p in glob.glob(pattern)]
    return out


def probe_python(path: Path, found_in: str = "") -> PythonInfo | None:
    """Ask ``path`` for its version; ``None`` when it does not run or is not CPython 3."""
    try:
        result = proc.run([path, "-I", "-c", _PROBE], timeout=15, env=proc.clean_env())
    except ProcessError:
        return None
    if not result.ok:
        return None
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return PythonInfo(
        Path(path), str(data["version"]), str(data["implementation"]), int(data["bits"]), found_in
    )


def find_pythons() -> list[PythonInfo]:
    """Every distinct working Python found, newest version first."""
    seen: dict[str, tuple[Path, str]] = {}
    for path, where in _candidates():
        try:
            key = os.path.realpath(path)
        except OSError:
            continue
        seen.setdefault(key, (path, where))
    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(lambda item: probe_python(*item), seen.values()))
    unique: dict[tuple[str, str], PythonInfo] = {}
    for info in infos:
        if info is None or info.implementation != "cpython":
            continue
        # One entry per version and real prefix (python3 and python3.10 are often the same).
        unique.setdefault((info.version, str(info.path.parent)), info)
    return sorted(unique.values(), key=lambda i: _vkey(i.version), reverse=True)


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _fits(info: PythonInfo, spec: str | None) -> bool:
    if not spec:
        return True
    # lazy: packaging is heavy
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(info.version) in SpecifierSet(spec)
    except InvalidVersion:
        return False


def choose_python(
    spec: str | None,
    requested: str | None,
    recommended: str | None,
    *,
    found: list[PythonInfo] | None = None,
) -> PythonInfo:
    """The interpreter for a new venv.

    ``requested`` (``--python``): a path, or a version such as ``3.10``; it must run, and it
    must fit ``spec`` (the manifest's supported range). Otherwise the best Python found that fits
    ``spec``: the ``recommended`` version exactly, then the same X.Y, then the newest. Raises
    ``UsageError`` naming what was found and what is needed.
    """
    need = f"Python {recommended}" if recommended else (f"a Python {spec}" if spec else "Python 3")
    if requested and (
        os.sep in requested
        or "/" in requested
        or requested.endswith(".exe")
        or Path(requested).exists()
    ):
        info = probe_python(Path(requested), "--python")
        if info is None:
            raise UsageError(f"--python {requested}: not a Python that runs")
        if not _fits(info, spec):
            raise UsageError(
                f"--python {requested} is Python {info.version}; the application "
                f"supports {spec} (it needs {need})"
            )
        return info
    pythons = found if found is not None else find_pythons()
    candidates = [p for p in pythons if _fits(p, spec) and p.bits == 64]
    if requested:
        if not re.fullmatch(r"\d+(\.\d+){0,2}", requested):
            raise UsageError(f"--python {requested}: give a path or a version such as 3.10")
        candidates = [
            p for p in candidates if p.version == requested or p.version.startswith(requested + ".")
        ]
        need = f"Python {requested}" + (f" (the application supports {spec})" if spec else "")
    if recommended:
        rxy = ".".join(recommended.split(".")[:2])
        candidates.sort(
            key=lambda p: (
                p.version != recommended,
                p.xy != rxy,
                tuple(-x for x in _vkey(p.version)),
            )
        )
    if candidates:
        return candidates[0]
    shown = ", ".join(p.describe() for p in pythons[:8]) or "none"
    raise UsageError(
        f"no suitable Python found: this needs {need}; found: {shown}",
        hint=f"install {need} (python.org, or pyenv), then run again with --python <path to it>",
    )
