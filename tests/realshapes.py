"""Real install shapes, offline: the metadata of a real web UI venv (every ``.dist-info`` and
``.egg-info`` folder, its RECORD or ``installed-files.txt`` with the sizes, the ``.pth`` files, the
interpreter's own answers) captured into a compact JSON file under ``tests/data/real-shapes/``,
and laid out again as a venv whose payload files have the recorded sizes (sparse, zero-filled).

The payload is not kept: the checks that read shapes compare paths and sizes, not contents.
Hashes are kept only for the paths that several RECORDs list (namespace ``__init__.py`` files,
the opencv case), shortened: equal or different is all the checks ask of them.

    python -m tests.realshapes capture VENV_DIR APP_DIR NAME     # writes tests/data/real-shapes/
    python -m tests.realshapes wheel WHEEL... NAME               # RECORDs of wheels (numpy 2, ...)
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "real-shapes"
_SMALL = 4096  # metadata files up to this size are kept whole
_HASH_KEEP = 12  # characters of a shared path's hash that are kept
# Metadata files kept whole (small, and read by the checks); METADATA/PKG-INFO keep their headers.
_KEEP = {
    "INSTALLER",
    "top_level.txt",
    "requires.txt",
    "installed-files.txt",
    "direct_url.json",
    "entry_points.txt",
    "REQUESTED",
    "WHEEL",
    "dependency_links.txt",
}


_HEADERS = (
    "metadata-version",
    "name",
    "version",
    "requires-dist",
    "provides-extra",
    "requires-python",
)


_CFG_KEEP = {"include-system-site-packages", "version", "version_info", "implementation"}


def _headers_only(text: str) -> str:
    """The headers the checks read (name, version, requirements); the description and the
    classifiers are left out."""
    end = text.find("\n\n")
    head = text if end == -1 else text[:end]
    keep = [
        line
        for line in head.splitlines()
        if line[:1] not in (" ", "\t") and line.partition(":")[0].lower() in _HEADERS
    ]
    return "\n".join(keep) + "\n"


def _shared_hashes(records: dict[str, str]) -> set[str]:
    seen: dict[str, int] = {}
    for text in records.values():
        for line in text.splitlines():
            path = line.rsplit(",", 2)[0]
            seen[path] = seen.get(path, 0) + 1
    return {p for p, n in seen.items() if n > 1}


def _slim_record(text: str, shared: set[str]) -> str:
    """RECORD without bytecode lines (the checks never count ``.pyc``) and with hashes only for
    shared paths."""
    out = []
    for line in text.splitlines():
        if "__pycache__/" in line or ".pyc," in line:
            continue
        parts = line.rsplit(",", 2)
        if len(parts) != 3:
            out.append(line)
            continue
        path, digest, size = parts
        out.append(f"{path},{digest[: 7 + _HASH_KEEP] if path in shared else ''},{size}")
    return "\n".join(out) + "\n"


def capture_venv(venv: Path, app: Path | None, name: str) -> Path:
    """Capture ``venv``'s metadata shapes (and the app's requirement files) as ``NAME.json.gz``."""
    from repair.env.interp import probe
    from repair.env.layout import VenvLayout, read_pyvenv_cfg

    layout = VenvLayout.detect(venv)
    cfg = read_pyvenv_cfg(layout.cfg_path)
    site = layout.site_packages(cfg.version)
    info = probe(layout.python)
    folders = sorted(p for p in site.iterdir() if p.name.endswith((".dist-info", ".egg-info")))
    records = {
        p.name: (p / "RECORD").read_text(encoding="utf-8")
        for p in folders
        if (p / "RECORD").is_file()
    }
    shared = _shared_hashes(records)
    dists = []
    for folder in folders:
        files: dict[str, Any] = {}
        for f in sorted(folder.iterdir()):
            if f.is_dir():
                continue
            if f.name == "RECORD":
                files[f.name] = _slim_record(records[folder.name], shared)
            elif f.name in ("METADATA", "PKG-INFO"):
                files[f.name] = _headers_only(f.read_text(encoding="utf-8", errors="replace"))
            elif f.name == "installed-files.txt" or f.name in _KEEP and f.stat().st_size <= _SMALL:
                files[f.name] = f.read_text(encoding="utf-8", errors="replace")
            else:
                files[f.name] = f.stat().st_size
        dists.append({"folder": folder.name, "files": files})
    pth = {
        p.name: p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(site.glob("*.pth"))
        if p.stat().st_size <= _SMALL
    }
    app_files = {}
    if app is not None:
        for f in sorted(app.glob("requirements*.txt")):
            app_files[f.name] = f.read_text(encoding="utf-8")
    data = {
        "schema": 1,
        "name": name,
        "site": site.relative_to(venv).as_posix(),
        # Only what names no machine path: the base Python's folder is the test runner's.
        "pyvenv": "".join(
            line + "\n"
            for line in layout.cfg_path.read_text(encoding="utf-8").splitlines()
            if line.partition("=")[0].strip() in _CFG_KEEP
        ),
        "python": {"version": info.version, "markers": info.markers},
        "app_files": app_files,
        "dists": dists,
        "pth": pth,
    }
    return _write(name, data)


def capture_wheels(wheels: list[Path], name: str) -> Path:
    """The ``.dist-info`` of each wheel (RECORD with sizes, METADATA headers)."""
    dists = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            meta = next(
                n.split("/")[0] for n in zf.namelist() if n.split("/")[0].endswith(".dist-info")
            )
            record = zf.read(f"{meta}/RECORD").decode()
            paths = {line.rsplit(",", 2)[0] for line in record.splitlines()}
            files: dict[str, Any] = {
                "RECORD": _slim_record(record, paths),
                "METADATA": _headers_only(zf.read(f"{meta}/METADATA").decode("utf-8", "replace")),
                "INSTALLER": "pip\n",
            }
            dists.append({"folder": meta, "files": files, "wheel": wheel.name})
    return _write(name, {"schema": 1, "name": name, "dists": dists})


def _write(name: str, data: dict[str, Any]) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    out = DATA / f"{name}.json.gz"
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    out.write_bytes(gzip.compress(raw, 9, mtime=0))
    return out


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress((DATA / f"{name}.json.gz").read_bytes()))
    return data


def _touch(path: str, size: int, made: set[str]) -> None:
    parent = os.path.dirname(path)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if size:
            os.ftruncate(fd, size)  # sparse: a 1 GB torch library costs no disk
    finally:
        os.close(fd)


def lay_dist(site: Path, dist: dict[str, Any], *, payload: bool = True) -> None:
    """Write one captured distribution into ``site``: its metadata folder, and (``payload``)
    every file its RECORD or installed-files.txt lists, zero-filled at the recorded size."""
    folder = site / dist["folder"]
    folder.mkdir(parents=True, exist_ok=True)
    made: set[str] = set()
    for fname, content in dist["files"].items():
        if isinstance(content, str):
            (folder / fname).write_text(content, encoding="utf-8")
        else:
            _touch(str(folder / fname), int(content), made)
    if "RECORD" in dist["files"]:
        entries = []
        for line in dist["files"]["RECORD"].splitlines():
            parts = line.rsplit(",", 2)
            if parts and parts[0]:
                size = parts[2] if len(parts) == 3 else ""
                entries.append((parts[0], int(size) if size.isdigit() else 0))
    else:
        listed = dist["files"].get("installed-files.txt", "")
        entries = [
            (os.path.normpath(os.path.join(dist["folder"], ln.strip())), 0)
            for ln in listed.splitlines()
            if ln.strip()
        ]
    prefix = dist["folder"] + "/"
    base = str(site)
    for rel, size in entries:
        rel = rel.replace("\\", "/")
        in_meta = rel.startswith(prefix)
        if in_meta and "/" not in rel[len(prefix) :]:
            continue  # written above
        if not payload and not in_meta:
            continue
        _touch(os.path.normpath(os.path.join(base, rel)), size, made)  # last laid wins, as pip


def lay_venv(data: dict[str, Any], venv: Path, *, only: set[str] | None = None) -> Path:
    """A venv with the captured shapes (``only``: these metadata folders alone). Returns the
    site-packages folder. Its ``bin/python`` is not laid: the captured interpreter answers are
    given to the context instead (``interpreter``)."""
    venv.mkdir(parents=True, exist_ok=True)
    home = Path(getattr(sys, "_base_executable", "") or sys.executable).parent
    (venv / "pyvenv.cfg").write_text(f"home = {home}\n" + data["pyvenv"], encoding="utf-8")
    site = venv / data["site"]
    site.mkdir(parents=True, exist_ok=True)
    for dist in data["dists"]:
        if only is None or dist["folder"] in only:
            lay_dist(site, dist)
    for name, text in data.get("pth", {}).items():
        if only is None or (site / name).exists():
            (site / name).write_text(text, encoding="utf-8")
    return site


def lay_app(data: dict[str, Any], app: Path) -> None:
    app.mkdir(parents=True, exist_ok=True)
    for name, text in data.get("app_files", {}).items():
        (app / name).write_text(text, encoding="utf-8")


def interpreter(data: dict[str, Any]) -> Any:
    from repair.env.interp import InterpreterInfo

    py = data["python"]
    # The real probe reports the C library; the shapes were captured on a glibc 2.36 system,
    # whose manylinux_2_27/2_28 wheels (llvmlite, torch's CUDA libraries) its venvs hold.
    return InterpreterInfo(
        version=py["version"],
        markers=dict(py["markers"]),
        executable="python",
        facts={"libc": py.get("libc", "glibc 2.36")},
    )


def main(argv: list[str]) -> int:
    if len(argv) >= 4 and argv[0] == "capture":
        print(capture_venv(Path(argv[1]), Path(argv[2]) if argv[2] != "-" else None, argv[3]))
        return 0
    if len(argv) >= 3 and argv[0] == "wheel":
        print(capture_wheels([Path(a) for a in argv[1:-1]], argv[-1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
