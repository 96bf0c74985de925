"""A client of the simple repository API, as pip uses it.

- PEP 691 JSON by content negotiation, PEP 503 HTML as the fallback (``html.parser``);
  ``file://`` indexes and ``--find-links`` folders and pages.
- Timeouts, retries with backoff (urllib3's ``Retry``, pip's status list), proxies and
  certificates from the pip configuration, ``--trusted-host``; ``requests`` also honours
  ``HTTPS_PROXY``/``NO_PROXY``, ``REQUESTS_CA_BUNDLE`` and ``.netrc`` as pip does.
- A cache of parsed pages keyed by URL, revalidated with ``ETag``/``Last-Modified`` (a 304 costs
  a round trip and no body) and reused without asking while ``Cache-Control: max-age`` holds.
- Credentials in URLs go to the server, never into a message, a cache entry or a result
  (``repair.proc.redact``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from platformdirs import user_cache_dir

from repair import __version__
from repair.index.config import PipConfig
from repair.proc import redact

if TYPE_CHECKING:
    import requests

CACHE_ENV = "REPAIR_INDEX_CACHE"  # a folder for the page cache; "0"/"off" disables it
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
RETRY_STATUS = (500, 502, 503, 504, 520, 527)  # pip's list, plus 504 (gateway timeout)
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")


class IndexUnreachable(Exception):
    """An index or find-links location could not be read. ``network`` is true for connection
    and timeout failures (the machine may be offline), false for an HTTP error status."""

    def __init__(self, url: str, reason: str, *, network: bool) -> None:
        super().__init__(f"{redact(url)}: {reason}")
        self.url = redact(url)
        self.reason = redact(reason)
        self.network = network


@dataclass(frozen=True)
class FileLink:
    filename: str
    url: str  # absolute; may carry credentials: never show it unredacted
    source: str  # the index or find-links location it came from, as configured
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True)
class Page:
    url: str
    files: tuple[FileLink, ...]
    found: bool = True  # False: the index answered 404 (no such project there)
    from_cache: bool = False  # answered from the cache (fresh, or revalidated with a 304)
    requests: int = 0  # HTTP requests this answer cost


def default_cache_dir() -> Path | None:
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "0", "off", "no", "false") else Path(value)
    return Path(user_cache_dir("webui-repair", appauthor=False)) / "index"


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            href = dict(attrs).get("href")
            if href:
                self.base = href
        elif tag == "a":
            self.anchors.append(dict(attrs))


def _filename(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def _strip_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def parse_html(text: str, page_url: str, source: str) -> list[FileLink]:
    """PEP 503 anchors (with PEP 592 ``data-yanked`` and ``data-requires-python``)."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    out = []
    for a in parser.anchors:
        href = a.get("href")
        if not href:
            continue
        url = urljoin(base, href)
        name = _filename(_strip_fragment(url))
        if not name.endswith(_ARCHIVES):
            continue
        yanked = "data-yanked" in a
        reason = a.get("data-yanked") or None
        out.append(
            FileLink(name, url, source, a.get("data-requires-python") or None, yanked, reason)
        )
    return out


def parse_json(data: dict[str, Any], page_url: str, source: str) -> list[FileLink]:
    """A PEP 691 project page."""
    out = []
    for f in data.get("files", []):
        if not isinstance(f, dict) or "url" not in f:
            continue
        url = urljoin(page_url, str(f["url"]))
        name = str(f.get("filename") or _filename(_strip_fragment(url)))
        yanked = f.get("yanked", False)
        reason = yanked if isinstance(yanked, str) and yanked else None
        out.append(
            FileLink(name, url, source, f.get("requires-python") or None, bool(yanked), reason)
        )
    return out


def _local_folder(location: str) -> Path | None:
    if location.startswith("file:"):
        # lazy: pulls in http.client; only file: URLs need it
        from urllib.request import url2pathname

        return Path(url2pathname(unquote(urlsplit(location).path)))
    if "://" in location:
        return None
    return Path(location).expanduser()


def is_local(location: str) -> bool:
    return _local_folder(location) is not None


def _folder_links(folder: Path, source: str) -> list[FileLink]:
    out = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        if entry.name.endswith(_ARCHIVES) and entry.is_file():
            out.append(FileLink(entry.name, Path(entry.path).as_uri(), source))
    return out


class IndexClient:
    """Reads project pages from indexes and find-links locations. Thread-safe."""

    def __init__(self, config: PipConfig, *, cache_dir: Path | None | bool = True) -> None:
        self.config = config
        if cache_dir is True:
            self.cache_dir: Path | None = default_cache_dir()
        elif cache_dir is False:
            self.cache_dir = None
        else:
            self.cache_dir = cache_dir
        self._local = threading.local()
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "not_modified": 0, "fresh": 0, "bytes": 0}

    # --- HTTP -------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            # lazy: requests is heavy; only an HTTP index needs it
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            session = requests.Session()
            retry = Retry(
                total=self.config.retries,
                backoff_factor=0.25,
                status_forcelist=RETRY_STATUS,
                allowed_methods=("GET",),
                raise_on_status=False,
                respect_retry_after_header=True,
            )
            adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = f"webui-repair/{__version__} (pip-compatible)"
            if self.config.cert:
                session.verify = self.config.cert
            if self.config.client_cert:
                session.cert = self.config.client_cert
            if self.config.proxy:
                session.proxies = {"http": self.config.proxy, "https": self.config.proxy}
            self._local.session = session
        return session

    def _verify_for(self, url: str) -> bool | None:
        host = urlsplit(url).hostname or ""
        port = urlsplit(url).port
        for trusted in self.config.trusted_hosts:
            t_host, _, t_port = trusted.partition(":")
            if t_host == host and (not t_port or str(port) == t_port):
                return False
        return None

    def _count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self.stats[key] += amount

    # --- cache ------------------------------------------------------------------------------
    def _cache_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_load(self, url: str) -> dict[str, Any] | None:
        path = self._cache_path(url)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) and data.get("v") == 1 else None

    def _cache_store(self, url: str, entry: dict[str, Any]) -> None:
        path = self._cache_path(url)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written costs speed, never correctness

    # --- pages ------------------------------------------------------------------------------
    def project_page(self, index_url: str, project: str) -> Page:
        """The files of ``project`` (a canonical name) on ``index_url``."""
        url = index_url.rstrip("/") + "/" + project + "/"
        folder = _local_folder(index_url)
        if folder is not None:
            return self._local_index_page(folder / project, url, index_url)
        return self._http_page(url, index_url)

    def find_links_page(self, location: str) -> Page:
        """Every archive a ``--find-links`` folder, HTML file or page points at."""
        folder = _local_folder(location)
        if folder is not None:
            if folder.is_dir():
                return Page(location, tuple(_folder_links(folder, location)))
            if folder.is_file():
                text = folder.read_text(encoding="utf-8", errors="replace")
                return Page(location, tuple(parse_html(text, folder.as_uri(), location)))
            raise IndexUnreachable(location, "no such folder or file", network=False)
        return self._http_page(location, location)

    def _local_index_page(self, folder: Path, url: str, source: str) -> Page:
        index = folder / "index.html"
        if index.is_file():
            text = index.read_text(encoding="utf-8", errors="replace")
            return Page(url, tuple(parse_html(text, index.as_uri(), source)))
        if folder.is_dir():
            return Page(url, tuple(_folder_links(folder, source)))
        root = _local_folder(source)
        if root is not None and not root.is_dir():
            raise IndexUnreachable(source, "no such folder", network=False)
        return Page(url, (), found=False)

    def _http_page(self, url: str, source: str) -> Page:
        import requests  # lazy: requests is heavy; only an HTTP index needs it

        cached = self._cache_load(url)
        if cached and cached.get("expires", 0) > time.time():
            self._count("fresh")
            return Page(url, _from_cache(cached, source), cached["found"], from_cache=True)
        headers = {"Accept": ACCEPT}
        if cached:
            if cached.get("etag"):
                headers["If-None-Match"] = cached["etag"]
            if cached.get("last_modified"):
                headers["If-Modified-Since"] = cached["last_modified"]
        verify = self._verify_for(url)
        try:
            self._count("requests")
            session = self._session()
            response = session.get(
                url,
                headers=headers,
                timeout=self.config.timeout,
                verify=session.verify if verify is None else verify,
            )
        except requests.exceptions.RetryError as exc:
            raise IndexUnreachable(
                url, f"gave up after {self.config.retries} retries: {_reason(exc)}", network=False
            ) from None
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            raise IndexUnreachable(url, _reason(exc), network=True) from None
        except requests.exceptions.RequestException as exc:
            raise IndexUnreachable(url, _reason(exc), network=False) from None
        if response.status_code == 304 and cached:
            self._count("not_modified")
            self._refresh(url, cached, response)
            return Page(
                url, _from_cache(cached, source), cached["found"], from_cache=True, requests=1
            )
        self._count("bytes", len(response.content))
        if response.status_code in (404, 410):
            files: list[FileLink] = []
            found = False
        elif response.status_code >= 400:
            reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
            if response.status_code in RETRY_STATUS and self.config.retries:
                reason += f" (after {self.config.retries} retries)"
            raise IndexUnreachable(url, reason, network=False)
        else:
            found = True
            ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            page_url = response.url or url
            if ctype == JSON_TYPE:
                try:
                    files = parse_json(response.json(), page_url, source)
                except ValueError as exc:
                    raise IndexUnreachable(
                        url, f"malformed JSON page: {exc}", network=False
                    ) from None
            else:
                files = parse_html(response.text, page_url, source)
        # Credentials stay out of the cache: file URLs are kept redacted (the preflight never
        # downloads them) and the source is the caller's own on the way back.
        entry = {
            "v": 1,
            "url": redact(url),
            "found": found,
            "files": [dict(asdict(f), url=redact(f.url), source="") for f in files],
        }
        self._refresh(url, entry, response)
        return Page(url, tuple(files), found, requests=1)

    def _refresh(self, url: str, entry: dict[str, Any], response: requests.Response) -> None:
        before = (entry.get("etag"), entry.get("last_modified"), entry.get("expires"))
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if etag:
            entry["etag"] = etag
        if modified:
            entry["last_modified"] = modified
        max_age = _max_age(response.headers.get("Cache-Control", ""))
        entry["expires"] = time.time() + max_age if max_age else 0
        after = (entry.get("etag"), entry.get("last_modified"), entry["expires"])
        if after != before and (entry.get("etag") or entry.get("last_modified") or max_age):
            self._cache_store(url, entry)  # a 304 that changes nothing writes nothing


def _from_cache(entry: dict[str, Any], source: str) -> tuple[FileLink, ...]:
    return tuple(FileLink(**dict(f, source=source)) for f in entry["files"])


def _max_age(header: str) -> float:
    parts = [p.strip().lower() for p in header.split(",")]
    if any(p in ("no-cache", "no-store") for p in parts):
        return 0.0
    for part in parts:
        if part.startswith("max-age="):
            try:
                return max(float(part.split("=", 1)[1]), 0.0)
            except ValueError:
                return 0.0
    return 0.0


def _reason(exc: BaseException) -> str:
    """A short, redacted reason from a requests/urllib3 exception chain."""
    text = str(exc)
    for marker in ("Caused by ", "Read timed out", "Connection refused", "Name or service"):
        if marker in text:
            text = text[text.index(marker) :]
            break
    if "timed out" in text.lower():
        return "timed out"
    if "refused" in text.lower():
        return "connection refused"
    if "too many 5" in text.lower() or "error responses" in text.lower():
        return "the server kept answering with errors"
    return redact(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)[:200]
