"""Build small, valid wheels from a description: used by ``repair demo`` (which must work offline)
and by the test-suite's fixtures."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    extras: Mapping[str, Iterable[str]] | None = None,
    files: Mapping[str, str | bytes] | None = None,
    requires_python: str | None = None,
    tag: str = "py3-none-any",
) -> Path:
    """Build ``name-version-tag.whl`` in ``dest`` and return its path.

    ``files`` maps paths inside the wheel to content; by default the wheel holds one package
    ``<name>/__init__.py`` that sets ``__version__``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    folder = name.replace("-", "_")
    module = folder.lower()
    base = f"{folder}-{version}"
    info = f"{base}.dist-info"
    contents: dict[str, bytes] = {}
    default = {f"{module}/__init__.py": f"__version__ = {version!r}\n"}
    for path, data in (files if files is not None else default).items():
        contents[path] = data.encode() if isinstance(data, str) else data
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta += [f'Requires-Dist: {r}; extra == "{extra}"' for r in reqs]
    contents[f"{info}/METADATA"] = ("\n".join(meta) + "\n\nA small distribution.\n").encode()
    contents[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: webui-repair\nRoot-Is-Purelib: "
        f"{'true' if tag.endswith('-none-any') else 'false'}\nTag: {tag}\n"
    ).encode()
    tops = sorted(
        {p.split("/", 1)[0].removesuffix(".py") for p in contents if not p.startswith(info)}
    )
    contents[f"{info}/top_level.txt"] = ("\n".join(tops) + "\n").encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path, data in contents.items():
        writer.writerow([path, record_hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    contents[f"{info}/RECORD"] = out.getvalue().encode()
    wheel = dest / f"{base}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
    return wheel


def unpack_wheel(wheel: Path, site: Path, *, installer: str = "pip") -> Path:
    """Write ``wheel``'s files into ``site`` (no scripts, no bytecode) and return its .dist-info
    folder. For synthetic trees and for breaking a venv on purpose; real installs use pip."""
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
        info = next(
            n.split("/")[0] for n in zf.namelist() if n.split("/")[0].endswith(".dist-info")
        )
    (site / info / "INSTALLER").write_text(installer + "\n")
    with (site / info / "RECORD").open("a", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow([f"{info}/INSTALLER", "", ""])
    return site / info
