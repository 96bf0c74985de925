"""A real package index on 127.0.0.1 for tests and benchmarks, over real wheels built here.

``build_wheel`` writes a minimal valid wheel (METADATA, WHEEL, RECORD with hashes) that pip can
install; ``build_sdist`` a minimal sdist. ``LocalIndex`` serves a folder of them through the simple
repository API: PEP 691 JSON or PEP 503 HTML by the Accept header, PEP 592 yanked files,
``requires-python``, PEP 658 metadata files, ETag/Last-Modified with 304 answers, and a few
misbehaving prefixes:

- ``/simple/``        negotiated JSON or HTML
- ``/html/simple/``   HTML only (an index without PEP 691)
- ``/slow/simple/``   answers after ``slow_seconds``
- ``/flaky/simple/``  answers 503 ``fail_times`` times per page, then normally
- ``/down/simple/``   always 503
- ``/private/simple/`` needs HTTP basic auth ``user``/``secret``
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import re
import tarfile
import threading
import time
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from repair.env import wheelkit

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
USER, SECRET = "user", "s3cr3t-t0ken"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    folder: Path,
    name: str,
    version: str,
    tag: str = "py3-none-any",
    requires_python: str | None = None,
    requires: tuple[str, ...] = (),
) -> Path:
    """A wheel named for ``tag`` (a platform wheel when the tag says so)."""
    return wheelkit.build_wheel(
        folder, name, version, requires=requires, requires_python=requires_python, tag=tag
    )


def build_sdist(folder: Path, name: str, version: str) -> Path:
    dist = re.sub(r"[-_.]+", "_", name)
    base = f"{dist}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{base}.tar.gz"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    with tarfile.open(path, "w:gz") as tf:
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(pkg_info)
        tf.addfile(ti, io.BytesIO(pkg_info))
    return path


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        for n in zf.namelist():
            if n.endswith(".dist-info/METADATA"):
                return zf.read(n)
    return b""


def project_of(filename: str) -> str:
    return _canon(filename.split("-", 1)[0])


class LocalIndex:
    """A threaded HTTP index over ``folder`` (every archive in it is a file of its project)."""

    def __init__(self, folder: Path, *, slow_seconds: float = 3.0, fail_times: int = 2) -> None:
        self.folder = folder
        self.yanked: dict[str, str] = {}  # filename -> reason ("" for none)
        self.requires_python: dict[str, str] = {}  # filename -> specifier
        self.slow_seconds = slow_seconds
        self.max_age: int | None = None  # sends Cache-Control: max-age=N when set
        self.file_rate: int | None = None  # bytes per second for files (a slow download)
        self.fail_times = fail_times
        self.hits: Counter[str] = Counter()  # path -> requests
        self.status: Counter[int] = Counter()
        self.auth_seen: list[str] = []
        self._fails: Counter[str] = Counter()
        self._listing: tuple[int, dict[str, list[Path]]] | None = None
        self._pages: dict[tuple[object, ...], bytes | None] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def simple(self, prefix: str = "") -> str:
        return f"{self.url}{prefix}/simple/"

    def __enter__(self) -> LocalIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- pages ----------------------------------------------------------------------------
    def _files(self, project: str) -> list[Path]:
        # Listed once per change of the folder: the server's own cost stays out of timings.
        stamp = self.folder.stat().st_mtime_ns
        if self._listing is None or self._listing[0] != stamp:
            by_project: dict[str, list[Path]] = {}
            for p in sorted(self.folder.iterdir()):
                if p.is_file() and not p.name.endswith(".metadata"):
                    by_project.setdefault(project_of(p.name), []).append(p)
            self._listing = (stamp, by_project)
        return self._listing[1].get(project, [])

    def _page(self, project: str, as_json: bool) -> bytes | None:
        key = (
            project,
            as_json,
            tuple(sorted(self.yanked.items())),
            tuple(sorted(self.requires_python.items())),
            self.folder.stat().st_mtime_ns,
        )
        with self._lock:
            if key in self._pages:
                return self._pages[key]
        body = self._render(project, as_json)
        with self._lock:
            self._pages[key] = body
        return body

    def _render(self, project: str, as_json: bool) -> bytes | None:
        files = self._files(project)
        if not files:
            return None
        if as_json:
            out = []
            for p in files:
                entry: dict[str, object] = {
                    "filename": p.name,
                    "url": f"/files/{p.name}",
                    "hashes": {},
                }
                if p.name in self.requires_python:
                    entry["requires-python"] = self.requires_python[p.name]
                if p.name in self.yanked:
                    entry["yanked"] = self.yanked[p.name] or True
                if p.name.endswith(".whl"):
                    entry["core-metadata"] = {
                        "sha256": hashlib.sha256(wheel_metadata(p)).hexdigest()
                    }
                out.append(entry)
            doc = {"meta": {"api-version": "1.1"}, "name": project, "files": out}
            return json.dumps(doc).encode()
        rows = []
        for p in files:
            attrs = f'href="/files/{p.name}"'
            if p.name in self.requires_python:
                attrs += f' data-requires-python="{html.escape(self.requires_python[p.name])}"'
            if p.name in self.yanked:
                attrs += f' data-yanked="{html.escape(self.yanked[p.name])}"'
            if p.name.endswith(".whl"):
                digest = hashlib.sha256(wheel_metadata(p)).hexdigest()
                attrs += (
                    f' data-dist-info-metadata="sha256={digest}"'
                    f' data-core-metadata="sha256={digest}"'
                )
            rows.append(f"<a {attrs}>{p.name}</a><br/>")
        body = (
            '<!DOCTYPE html><html><head><meta name="pypi:repository-version" '
            f'content="1.1"><title>Links for {project}</title></head><body>'
            f"<h1>Links for {project}</h1>{''.join(rows)}</body></html>"
        )
        return body.encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(
                self,
                code: int,
                body: bytes = b"",
                ctype: str = "text/plain",
                headers: dict[str, str] | None = None,
            ) -> None:
                with index._lock:
                    index.status[code] += 1
                try:
                    self.send_response(code)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    # the client may have given up (a timeout test)
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(body)

            def _trickle(self, body: bytes, rate: int) -> None:
                """A file at ``rate`` bytes a second: what a download looks like."""
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                chunk = max(rate // 20, 1024)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for start in range(0, len(body), chunk):
                        self.wfile.write(body[start : start + chunk])
                        self.wfile.flush()
                        time.sleep(chunk / rate)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                with index._lock:
                    index.hits[path] += 1
                    if "Authorization" in self.headers:
                        index.auth_seen.append(self.headers["Authorization"])
                m = re.match(r"^(/[a-z]+)?/simple/([^/]+)/?$", path)
                if path.startswith("/files/"):
                    from urllib.parse import unquote

                    name = unquote(path[len("/files/") :])  # "+" of a local version: %2B
                    target = index.folder / name
                    if name.endswith(".metadata"):
                        wheel = index.folder / name[: -len(".metadata")]
                        if wheel.is_file():
                            return self._send(200, wheel_metadata(wheel))
                    if target.is_file() and "/" not in name:
                        if index.file_rate:
                            return self._trickle(target.read_bytes(), index.file_rate)
                        return self._send(200, target.read_bytes(), "application/octet-stream")
                    return self._send(404)
                if not m:
                    return self._send(404)
                prefix, project = m.group(1) or "", m.group(2)
                if prefix == "/slow":
                    time.sleep(index.slow_seconds)
                elif prefix == "/down":
                    return self._send(503)
                elif prefix == "/flaky":
                    with index._lock:
                        index._fails[path] += 1
                        failing = index._fails[path] <= index.fail_times
                    if failing:
                        return self._send(503)
                elif prefix == "/private":
                    want = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self._send(401, headers={"WWW-Authenticate": 'Basic realm="x"'})
                accept = self.headers.get("Accept", "")
                as_json = JSON_TYPE in accept and prefix != "/html"
                body = index._page(_canon(project), as_json)
                if body is None:
                    return self._send(404, b"not found")
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                headers = {
                    "ETag": etag,
                    "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
                    "Vary": "Accept",
                }
                if index.max_age is not None:
                    headers["Cache-Control"] = f"max-age={index.max_age}"
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, headers=headers)
                ctype = JSON_TYPE if as_json else ("text/html" if prefix == "/html" else HTML_TYPE)
                return self._send(200, body, ctype, headers)

        return Handler
