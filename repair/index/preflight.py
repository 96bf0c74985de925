"""Preflight: ask the package index, before anything is changed, whether a rebuild can finish.

For each requirement the rebuild would install, find the file pip would pick for the TARGET
interpreter (its tags, its Python version, ``requires-python``, PEP 592 yanked files) across every
source pip would use (indexes, ``--find-links``, the manifest's torch index for torch packages),
and report what would stop the rebuild or make it go wrong:

- ``wheel-unavailable``: nothing installable for this Python and platform (with the Pythons that
  would work);
- ``index-unreachable``: an index or find-links location does not answer;
- ``yanked-pin``: the only matching files were yanked;
- ``source-build-required``: pip would build from an sdist;
- ``torch-index-fallback``: torch would come from another index than the backend's.

Offline (``offline=True``, or no network at all) is a state: only local sources are read, and what
could not be checked is listed (``unchecked``, and one ``preflight-unchecked`` info finding).

Public API: ``preflight(...) -> PreflightResult``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.env.dists import canonical
from repair.env.torchbuild import TORCH_FAMILY
from repair.index.candidates import (
    _allowed,
    _best,
    _Cand,
    _installable,
    _newest_not_yanked,
    _newest_wheel,
    _parse_link,
    _source_remedy,
    _tag_label,
    _unavailable,
    _working_pythons,
)
from repair.index.client import IndexClient, IndexUnreachable, Page, is_local
from repair.index.config import PipConfig
from repair.index.findings import (
    INDEX_UNREACHABLE,
    PREFLIGHT_UNCHECKED,
    SOURCE_BUILD_REQUIRED,
    TORCH_INDEX_FALLBACK,
    YANKED_PIN,
)
from repair.index.tags import target_from
from repair.model import Finding, Severity, sort_findings
from repair.proc import redact
from repair.progress import Reporter

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from repair.index.tags import Target


@dataclass(frozen=True)
class Resolved:
    """A requirement checked against the sources: what pip would install (``version`` None when
    nothing fits)."""

    requirement: str
    name: str
    version: str | None = None
    filename: str | None = None
    source: str | None = None  # redacted
    wheel: bool = False
    yanked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "name": self.name,
            "version": self.version,
            "filename": self.filename,
            "source": self.source,
            "wheel": self.wheel,
            "yanked": self.yanked,
        }


@dataclass(frozen=True)
class Unchecked:
    requirement: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"requirement": self.requirement, "reason": self.reason}


@dataclass(frozen=True)
class SourceStatus:
    url: str  # redacted
    kind: str  # index, find-links, torch-index
    asked: bool  # False when offline and the source is remote
    reachable: bool
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "asked": self.asked,
            "reachable": self.reachable,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PreflightResult:
    findings: tuple[Finding, ...]
    checked: tuple[Resolved, ...]
    unchecked: tuple[Unchecked, ...]
    skipped: tuple[str, ...]  # requirements whose markers do not apply to the target
    sources: tuple[SourceStatus, ...]
    target: str  # e.g. "cp310-win_amd64"
    online: bool  # False: --offline, or no remote source could be reached
    duration_ms: int = 0
    stats: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def can_finish(self) -> bool:
        """No error: a rebuild of this set is expected to finish (a stop needs ``--force``)."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "online": self.online,
            "can_finish": self.can_finish,
            "findings": [f.to_json() for f in self.findings],
            "checked": [r.to_json() for r in self.checked],
            "unchecked": [u.to_json() for u in self.unchecked],
            "skipped": list(self.skipped),
            "sources": [s.to_json() for s in self.sources],
            "duration_ms": self.duration_ms,
        }


def _norm(url: str) -> str:
    return url.rstrip("/")


def _requirement(item: Requirement | str) -> Requirement:
    from packaging.requirements import Requirement  # lazy: packaging is heavy

    return item if isinstance(item, Requirement) else Requirement(str(item))


class _Fetcher:
    """Reads every source once (find-links pages) or once per project (indexes), in threads."""

    def __init__(self, client: IndexClient, reporter: Reporter, workers: int) -> None:
        self.client = client
        self.reporter = reporter
        self.workers = workers
        self.errors: dict[str, IndexUnreachable] = {}
        self.pages: dict[tuple[str, str], Page] = {}

    def run(self, jobs: list[tuple[str, str, str]]) -> None:
        """jobs: (kind, location, project); kind "index" or "find-links"."""

        def one(job: tuple[str, str, str]) -> None:
            kind, location, project = job
            if location in self.errors:
                return  # one failure per location is enough: do not wait on it again
            try:
                if kind == "index":
                    page = self.client.project_page(location, project)
                else:
                    page = self.client.find_links_page(location)
            except IndexUnreachable as exc:
                self.errors.setdefault(location, exc)
                return
            self.pages[(location, project)] = page

        if not jobs:
            return
        with self.reporter.progress("Asking the package index", len(jobs)) as bar:
            if self.workers <= 1 or len(jobs) == 1:
                for job in jobs:
                    one(job)
                    bar.advance()
                return
            with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
                for _ in pool.map(one, jobs):
                    bar.advance()


def preflight(
    requirements: Iterable[Requirement | str],
    target: Mapping[str, Any] | Target,
    config: PipConfig,
    *,
    torch_index: str | None = None,
    offline: bool = False,
    reporter: Reporter | None = None,
    cache_dir: Path | None | bool = True,
    client: IndexClient | None = None,
    torch_packages: Iterable[str] = TORCH_FAMILY,
    workers: int = 16,
) -> PreflightResult:
    """Check that every requirement has a file the target interpreter can install.

    ``target``: facts of the venv's interpreter (see ``repair.index.tags``). ``config``: the pip
    configuration (``load_pip_config``). ``torch_index``: the manifest's index for the backend,
    asked for ``torch_packages`` besides the configured ones. ``cache_dir``: ``True`` for the user
    cache folder (``REPAIR_INDEX_CACHE`` overrides), ``False``/``None`` for none, or a folder.
    Raises ``repair.index.tags.TargetError`` for unusable target facts; never raises for an
    index that does not answer (that is a finding).
    """
    started = time.monotonic()
    reporter = reporter or Reporter()
    tgt = target_from(target)
    env = tgt.marker_env()
    offline = offline or config.offline
    client = client or IndexClient(config, cache_dir=cache_dir)
    torch_names = {canonical(n) for n in torch_packages}

    # Requirements that apply to the target, merged by name as pip merges them.
    wanted: dict[str, tuple[Requirement, list[str]]] = {}
    skipped: list[str] = []
    unchecked: list[Unchecked] = []
    from packaging.requirements import InvalidRequirement  # lazy: packaging is heavy

    for item in requirements:
        try:
            req = _requirement(item)
        except InvalidRequirement as exc:
            unchecked.append(Unchecked(redact(str(item)), f"not a requirement: {exc}"))
            continue
        text = redact(str(req))
        if req.marker is not None and not req.marker.evaluate(env):
            skipped.append(text)
            continue
        if req.url:
            unchecked.append(Unchecked(text, "a direct reference, not taken from an index"))
            continue
        name = canonical(req.name)
        if name in wanted:
            first, texts = wanted[name]
            if len(texts) == 1:  # merge into a copy: the caller's requirement stays as it was
                first = _requirement(str(first))
            first.specifier &= req.specifier
            wanted[name] = (first, texts + [text])
        else:
            wanted[name] = (req, [text])

    # Sources: (location, kind). Remote ones are not asked offline.
    # One source per location: an index named twice (in pip.conf and on the command line, with
    # and without its trailing slash) is asked, and reported, once.
    indexes: list[tuple[str, str]] = []
    for u in config.index_urls:
        if _norm(u) not in {_norm(seen) for seen, _ in indexes}:
            indexes.append((u, "index"))
    torch_src = None
    if torch_index and not config.no_index:
        torch_src = torch_index
        if _norm(torch_index) not in {_norm(u) for u in config.index_urls}:
            indexes.append((torch_index, "torch-index"))
    finds = [(loc, "find-links") for loc in config.find_links]
    sources = indexes + finds
    asked = {loc: (not offline or is_local(loc)) for loc, _ in sources}

    jobs: list[tuple[str, str, str]] = []
    for loc, _kind in finds:
        if asked[loc]:
            jobs.append(("find-links", loc, ""))
    for name in wanted:
        for loc, kind in indexes:
            if not asked[loc]:
                continue
            if kind == "torch-index" and name not in torch_names:
                continue
            jobs.append(("index", loc, name))
    reporter.step(
        f"Preflight: {len(wanted)} requirements for {_tag_label(tgt)}, "
        f"{sum(asked.values())} of {len(sources)} sources" + (" (offline)" if offline else "")
    )
    fetcher = _Fetcher(client, reporter, workers)
    fetcher.run(jobs)

    remote = [loc for loc, _ in sources if not is_local(loc) and asked[loc]]
    no_network = bool(remote) and all(
        loc in fetcher.errors and fetcher.errors[loc].network for loc in remote
    )
    online = not offline and not no_network

    # Every parsed link per project, with the sources that answered for it.
    by_project: dict[str, list[_Cand]] = {}
    for (_loc, project), page in fetcher.pages.items():
        for link in page.files:
            parsed = _parse_link(link)
            if parsed is None:
                continue
            pname, cand = parsed
            if project and pname != project:
                continue
            by_project.setdefault(pname, []).append(cand)

    findings: list[Finding] = []
    checked: list[Resolved] = []
    tagset = tgt.tags()
    pyver = tgt.full_version
    needed_errors: set[str] = set()
    label = _tag_label(tgt)

    for name, (req, texts) in wanted.items():
        text = texts[0] if len(texts) == 1 else ", ".join(texts)
        spec = req.specifier
        relevant = [loc for loc, kind in sources if kind != "torch-index" or name in torch_names]
        failed = [loc for loc in relevant if loc in fetcher.errors]
        not_asked = [loc for loc in relevant if not asked[loc]]
        cands = by_project.get(name, [])
        allowed = _allowed(cands, spec)
        usable = [c for c in allowed if _installable(c, tgt, tagset, pyver)]
        best = _best(usable)
        if best is None:
            if not online or not_asked:
                why = (
                    "offline: not in the local sources"
                    if offline
                    else "no network: not in the local sources"
                )
                unchecked.append(Unchecked(text, why))
                continue
            if failed:
                needed_errors.update(failed)
                unchecked.append(
                    Unchecked(
                        text,
                        "an index that might have it did not answer: "
                        + ", ".join(redact(u) for u in failed),
                    )
                )
                continue
            findings.append(_unavailable(name, text, spec, cands, allowed, tgt, label))
            checked.append(Resolved(text, name))
            continue
        link = best.link
        checked.append(
            Resolved(
                text,
                name,
                str(best.version),
                link.filename,
                redact(link.source),
                best.tags is not None,
                link.yanked,
            )
        )
        if link.yanked:
            reason = f" ({link.yanked_reason})" if link.yanked_reason else ""
            findings.append(
                YANKED_PIN(
                    name,
                    f"{text}: {name} {best.version} was yanked from "
                    f"{redact(link.source)}{reason}; "
                    "pip installs it only because nothing else fits",
                    f"Pin a version that was not yanked (newest: "
                    f"{_newest_not_yanked(cands, tgt, tagset, pyver) or 'none for this target'}).",
                    version=str(best.version),
                    reason=link.yanked_reason,
                )
            )
        if best.tags is None:
            wheel_pys = _working_pythons(allowed, tgt)
            findings.append(
                SOURCE_BUILD_REQUIRED(
                    name,
                    f"{text}: no wheel for {label}; pip would build {link.filename} from "
                    "source (slow, and it needs a compiler and headers: on Windows it often fails)",
                    _source_remedy(name, wheel_pys, _newest_wheel(cands, tgt, tagset, pyver)),
                    version=str(best.version),
                    wheel_pythons=wheel_pys,
                )
            )
        if torch_src and name in torch_names and _norm(link.source) != _norm(torch_src):
            on_torch = [c for c in usable if _norm(c.link.source) == _norm(torch_src)]
            torch_failed = torch_src in fetcher.errors
            why = (
                "did not answer"
                if torch_failed
                else f"has no {name} matching '{spec or 'any'}' for {label}"
                if not on_torch
                else "offers an older build"
            )
            findings.append(
                TORCH_INDEX_FALLBACK(
                    name,
                    f"{text}: the backend's index {redact(torch_src)} {why}; pip would take "
                    f"{link.filename} from {redact(link.source)} instead (on Windows and macOS "
                    "PyPI's torch is a CPU build)",
                    f"Use a {name} version that {redact(torch_src)} carries for Python {tgt.xy}, "
                    "another Python, or the index of another backend.",
                    index=redact(torch_src),
                    chosen=link.filename,
                    source=redact(link.source),
                )
            )

    for loc, kind in sources:
        if loc not in fetcher.errors:
            continue
        err = fetcher.errors[loc]
        if not online:
            severity = Severity.INFO
        elif loc in needed_errors or kind == "torch-index" or loc == torch_src:
            severity = Severity.ERROR
        else:
            severity = Severity.WARNING
        findings.append(
            INDEX_UNREACHABLE(
                redact(loc),
                f"{kind} {redact(loc)} does not answer: {err.reason}",
                "Check the network, the proxy and certificate settings, or the address in the pip "
                "configuration; pass --offline to use only local caches and --find-links folders.",
                severity=severity,
                kind=kind,
                source=config.source_of(
                    {"index": "index_url", "find-links": "find_links"}.get(kind, "torch_index")
                ),
            )
        )

    if unchecked:
        names = ", ".join(u.requirement for u in unchecked[:10])
        more = f" and {len(unchecked) - 10} more" if len(unchecked) > 10 else ""
        findings.append(
            PREFLIGHT_UNCHECKED(
                "preflight",
                f"{len(unchecked)} requirement(s) not checked against an index: {names}{more}",
                "Run again with the network available, "
                "or add a --find-links folder that holds them.",
                requirements=[u.to_json() for u in unchecked],
            )
        )

    statuses = tuple(
        SourceStatus(
            redact(loc),
            kind,
            asked[loc],
            asked[loc] and loc not in fetcher.errors,
            fetcher.errors[loc].reason
            if loc in fetcher.errors
            else (None if asked[loc] else "offline"),
        )
        for loc, kind in sources
    )
    return PreflightResult(
        findings=tuple(sort_findings(findings)),
        checked=tuple(checked),
        unchecked=tuple(unchecked),
        skipped=tuple(skipped),
        sources=statuses,
        target=label,
        online=online,
        duration_ms=int((time.monotonic() - started) * 1000),
        stats=dict(client.stats),
    )
