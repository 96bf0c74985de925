"""The rebuild core: what a new venv is built from, and building it. Used by the repair pipeline
(``--clean-venv`` and the findings that need a new venv) and by ``repair install``.

- **The Python** (``choose_python``): the old venv's own interpreter when it still runs, else
  another of the same minor release, else the manifest's recommendation; a different minor
  release only with a reason the plan shows (unsupported, ``--python``, none found).
- **The torch build** (``choose_torch``): kept as it is (same version, same local tag, from the
  index that serves that build) unless it does not fit the backend (the machine's, as ``check``
  detects it, or ``--backend``); then the manifest's packages for the backend, as a plan step that
  says why. ``Manifest.torch_for`` is the one reader of the manifest's torch table.
- **The working set** (``plan_working_set``): every distribution of the old venv at the version
  it had (from the snapshot's distribution list), except what the plan moves on purpose (a
  requirement of the app that the old version does not meet, a conflict, a torch build
  change). ``fresh`` resolves anew from the app's requirement files instead.
- **Building** (``create_venv``, ``install_torch``, ``install_set``): one virtualenv call that
  writes nothing outside the venv; torch first, then the kept set as exact pins with
  ``--no-deps``, then what moves (resolved, constrained by torch and by the kept pins). Before
  any installer runs, the kept pins (and torch when its build is kept) whose files are intact in
  the old venv's backup are linked from there (``reuse_from_old``, ``plan_reuse``;
  ``--no-reuse`` turns it off): only what is left is installed.
- **Verifying** (``verify_set``): the new venv against the planned set.
- **Preflight** (``preflight``): before anything is built, with the interpreter and platform the
  rebuild will use.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.errors import PreflightError, UsageError

if TYPE_CHECKING:
    from repair.app.manifest import Manifest
    from repair.context import Context
    from repair.env.packages import IndexOptions
    from repair.env.pythons import PythonInfo
    from repair.index.preflight import PreflightResult
    from repair.model import Finding
    from repair.progress import Reporter

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
# Seeded by the venv creator; their versions are not part of the working set.
SEEDED = ("pip", "wheel", "distribute")
# Distributions that belong to one torch build (its CUDA/ROCm libraries): they move with it.
BUILD_PARTS = re.compile(r"^(nvidia-.*|triton|pytorch-triton.*|cuda-.*)$")
PYTORCH_INDEX = "https://download.pytorch.org/whl/"
_TAG = re.compile(r"^(cu\d+|rocm[\d.]+|cpu|xpu)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------------------------------------
# Requirement files: the one place that lists them


def requirement_files(root: Path, manifest: Manifest) -> tuple[list[Path], list[Path]]:
    """The app's requirement files and constraint files (those that exist), manifest order."""
    reqs = [root / r for r in manifest.requirement_files if (root / r).is_file()]
    cons = [root / r for r in manifest.constraint_files if (root / r).is_file()]
    return reqs, cons


# ---------------------------------------------------------------------------------------------
# The Python


@dataclass(frozen=True)
class PythonChoice:
    path: str
    version: str
    reason: str

    @property
    def xy(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "version": self.version, "reason": self.reason}


def old_python(ctx: Context) -> tuple[str | None, Path | None]:
    """The old venv's Python version (pyvenv.cfg, else what its python said) and the
    interpreter it was made from, when that still exists."""
    if not ctx.venv_exists:
        return None, None
    version = ctx.cfg.version if ctx.cfg is not None else None
    if version is None and ctx.interp is not None:
        version = ctx.interp.version
    if version is None:
        return None, None
    xy = ".".join(version.split(".")[:2])
    bases: list[Path] = []
    if ctx.cfg is not None and ctx.cfg.home:
        bases.append(Path(ctx.cfg.home))
    info = ctx.interp
    if info is not None and info.facts.get("base_prefix"):
        prefix = Path(str(info.facts["base_prefix"]))
        bases += [prefix / "bin", prefix]
    names = ("python.exe", f"python{xy}.exe") if os.name == "nt" else (f"python{xy}", "python3")
    for base in bases:
        for name in names:
            cand = base / name
            if cand.is_file():
                return version, cand
    return version, None


def choose_python(manifest: Manifest, *, requested: str | None, old_version: str | None,
                  old_interpreter: Path | None,
                  found: list[PythonInfo] | None = None) -> PythonChoice:
    """The interpreter for the new venv, with the reason for it (see the module's text)."""
    from repair.env import pythons

    spec = manifest.python_supported or None
    recommended = manifest.python_recommended or None
    old_xy = ".".join(old_version.split(".")[:2]) if old_version else None
    if requested:
        info = pythons.choose_python(spec, requested, recommended, found=found)
        reason = f"--python {requested}"
        if old_xy and info.xy != old_xy:
            reason += f" (the old venv was Python {old_version})"
        return PythonChoice(str(info.path), info.version, reason)
    if old_version and old_xy:
        fits = _fits(old_version, spec)
        if fits and old_interpreter is not None:
            own = pythons.probe_python(old_interpreter, "the old venv")
            if own is not None and own.xy == old_xy:
                return PythonChoice(str(own.path), own.version,
                                    "the old venv's own interpreter")
        if fits:
            try:
                info = pythons.choose_python(spec, old_xy, recommended, found=found)
                return PythonChoice(str(info.path), info.version,
                                    f"the old venv's Python {old_xy} (its own interpreter is "
                                    "gone)")
            except UsageError:
                why = f"no Python {old_xy} (the old venv's) was found on this machine"
        else:
            why = f"the old venv's Python {old_version} is not supported ({spec})"
        info = pythons.choose_python(spec, None, recommended, found=found)
        return PythonChoice(str(info.path), info.version, why)
    info = pythons.choose_python(spec, None, recommended, found=found)
    return PythonChoice(str(info.path), info.version,
                        f"the manifest recommends {recommended}" if recommended
                        else "the newest supported Python found")


def _fits(version: str, spec: str | None) -> bool:
    if not spec:
        return True
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) in SpecifierSet(spec)
    except InvalidVersion:
        return False


# ---------------------------------------------------------------------------------------------
# The torch build


@dataclass(frozen=True)
class TorchChoice:
    backend: str | None
    packages: tuple[str, ...]
    index_url: str | None  # None: the user's own package index
    extra_index_url: str | None = None
    keep: bool = True  # the old venv's build, unchanged
    reason: str = ""
    was: str | None = None  # the old build, described
    drop: tuple[str, ...] = ()  # old distributions that belong to the old build

    def summary(self) -> str:
        where = self.index_url or self.extra_index_url or "the package index"
        what = ", ".join(self.packages)
        if self.keep:
            return f"install {what} (the same torch build) from {where}"
        return f"install {what} for {self.backend} from {where}: {self.reason}"

    def to_params(self, force: bool = False) -> dict[str, Any]:
        return {"requirements": list(self.packages), "index_url": self.index_url,
                "extra_index_url": self.extra_index_url, "backend": self.backend,
                "keep": self.keep, "reason": self.reason, "was": self.was,
                "drop": list(self.drop), "force_reinstall": force}


def manifest_torch(manifest: Manifest, backend: str | None) -> dict[str, Any] | None:
    """``{"packages", "index_url", "extra_index_url"}`` of the manifest for ``backend``; None
    when the manifest has no torch table at all (or no backend is known)."""
    if backend is None or not manifest.torch_backends and not manifest.get("torch"):
        return None
    spec = manifest.torch_for(backend)
    if spec is None:
        known = ", ".join(manifest.torch_backends)
        raise UsageError(f"the manifest {manifest.name!r} has no torch for the backend "
                         f"{backend!r} (it knows: {known})",
                         hint="choose one of those with --backend")
    return {"packages": [str(p) for p in spec.get("packages", [])],
            "index_url": spec.get("index_url"), "extra_index_url": spec.get("extra_index_url")}


def from_manifest(manifest: Manifest, backend: str | None, *, reason: str,
                  was: str | None = None, drop: Iterable[str] = ()) -> TorchChoice | None:
    spec = manifest_torch(manifest, backend)
    if spec is None or not spec["packages"]:
        return None
    return TorchChoice(backend, tuple(spec["packages"]), spec["index_url"],
                       spec["extra_index_url"], keep=False, reason=reason, was=was,
                       drop=tuple(drop))


def index_for_build(manifest: Manifest, kind: str, tag: str) -> str:
    """The index that serves torch builds tagged ``+tag``: the manifest's index for the build's
    backend when its URL names that tag or no tag at all (a mirror), else any of the manifest's
    indexes named for the tag, else PyTorch's own index for it."""
    def last(url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    own = (manifest.torch_for(kind) or {}).get("index_url")
    if own and (last(str(own)) == tag or not _TAG.match(last(str(own)))):
        return str(own)
    for backend in manifest.torch_backends:
        url = (manifest.torch_for(backend) or {}).get("index_url")
        if url and last(str(url)) == tag:
            return str(url)
    return PYTORCH_INDEX + tag


def choose_torch(ctx: Context, *, backend: str | None = None) -> TorchChoice | None:
    """The torch a rebuild of ``ctx``'s venv installs. ``backend``: ``--backend`` (None or
    "auto": the machine's, as ``check`` detects it)."""
    from repair.checks.torch import effective_torch

    manifest = ctx.install.manifest
    if backend == "auto":
        backend = None
    installed = ctx.installed if ctx.venv_exists else {}
    torch = installed.get("torch")
    build = ctx.torch_build if torch is not None else None
    machine = ctx.machine_backend
    explicit = backend is not None  # --backend: a manifest without it is an error

    def manifest_choice(wanted: str, **kw: Any) -> TorchChoice | None:
        try:
            return from_manifest(manifest, wanted, **kw)
        except UsageError:
            if explicit:
                raise
            return None  # the manifest has no torch for the machine: the old one stays

    if torch is None or build is None:
        return manifest_choice(backend or machine.backend,
                               reason="the old venv has no torch" if ctx.venv_exists
                               else "there is no old venv")
    kind = effective_torch(ctx) or build.kind
    family = [installed[n] for n in TORCH_FAMILY if n in installed]
    parts = sorted(d.name for d in installed.values() if BUILD_PARTS.match(d.key)
                   and d.key in {canonical(_req_name(r)) for r in torch.requires})
    was = f"torch {torch.version} ({build.kind} build, {build.evidence})"
    accepts = machine.accepts()
    where = "asked for with --backend" if machine.overridden else f"found by {machine.source}"
    if build.kind == "unknown":
        choice = manifest_choice(backend or machine.backend, was=was, drop=parts,
                                 reason=f"the build of {was} is not known")
        if choice is not None:
            return choice
    elif accepts and kind not in accepts:
        wanted = machine.backend if machine.backend in accepts else accepts[0]
        choice = manifest_choice(wanted, was=was, drop=parts,
                                 reason=f"{was} does not fit the backend {machine.backend}, "
                                 f"{where}")
        if choice is not None:
            return choice
    elif kind == "cuda" and machine.vendor == "nvidia" and _major(build.cuda) > _major(
            machine.cuda) > 0:
        choice = manifest_choice("cuda", was=was, drop=parts,
                                 reason=f"{was} needs CUDA {build.cuda}; the NVIDIA driver "
                                 f"{machine.driver or ''} supports CUDA up to {machine.cuda}")
        if choice is not None and choice.packages != tuple(
                f"{d.name}=={d.version}" for d in family):
            return choice
    # Keep the build: the same versions (local tags included) from the index that serves them.
    tag = torch.version.partition("+")[2]
    index = index_for_build(manifest, build.kind, tag) if tag else None
    pins = tuple(f"{d.name}=={d.version}" for d in family)
    return TorchChoice(build.kind if build.kind != "unknown" else machine.backend, pins, index,
                       None, keep=True, reason=f"keeps {was}", was=was)


def _major(version: str | None) -> int:
    m = re.match(r"\d+", version or "")
    return int(m.group(0)) if m else 0


def _req_name(text: str) -> str:
    return re.split(r"[\s\[(<>=!~;@]", text.strip(), maxsplit=1)[0]


def torch_index(choice: TorchChoice, user: IndexOptions) -> IndexOptions:
    """The package sources of the torch step: the user's own (torch's dependencies come from
    there) and the build's index as an extra one, listed first (uv asks extra indexes first and
    takes a package from the first index that has it; pip takes the best match of all)."""
    from dataclasses import replace

    extras = [u for u in (choice.index_url, choice.extra_index_url) if u]
    if not extras:
        return user
    folders = [str(f) for f in map(_local_folder, extras) if f is not None]
    urls = [u for u in extras if _local_folder(u) is None]
    return replace(user, find_links=(*user.find_links, *folders),
                   extra_index_urls=tuple(dict.fromkeys([*urls, *user.extra_index_urls])))


def _local_folder(url: str | None) -> Path | None:
    """A ``file:`` URL or a path naming a local folder of wheels (passed as ``--find-links``;
    a folder with an index.html is an index)."""
    if not url:
        return None
    from repair.index.client import _local_folder as local

    path = local(url)
    return path if path is not None and path.is_dir() and not (path / "index.html").exists() \
        else None


# ---------------------------------------------------------------------------------------------
# The working set


def pin_line(name: str, version: str, source: Mapping[str, Any] | None) -> str:
    """The requirement line that brings back one distribution: ``name==version``, or its
    recorded URL / VCS source (at the recorded commit), or ``-e`` for an editable folder."""
    source = source or {}
    url = str(source.get("url") or "")
    if url and "****" not in url:
        if source.get("type") == "vcs":
            commit = source.get("commit")
            return f"{name} @ {source.get('vcs') or 'git'}+{url}" + (f"@{commit}" if commit
                                                                     else "")
        if source.get("type") == "editable":
            return f"-e {url}"
        if source.get("type") in ("direct", "archive"):
            return f"{name} @ {url}"
    return f"{name}=={version}"


@dataclass(frozen=True)
class Move:
    name: str
    old: str | None  # the old version (None: new)
    new: str  # the specifier it moves to, or "removed"
    why: str
    requirement: str | None = None  # passed to the installer (None: the app's files bring it)

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "from": self.old, "to": self.new, "why": self.why,
                "requirement": self.requirement}


@dataclass
class WorkingSet:
    pins: dict[str, str] = field(default_factory=dict)  # canonical name -> requirement line
    versions: dict[str, str] = field(default_factory=dict)  # canonical name -> exact version
    moves: list[Move] = field(default_factory=list)
    fresh: bool = False

    def to_params(self) -> dict[str, Any]:
        return {"pins": [self.pins[k] for k in sorted(self.pins)],
                "expect": dict(sorted(self.versions.items())),
                "moves": [m.to_json() for m in self.moves], "fresh": self.fresh}


def plan_working_set(ctx: Context, findings: Iterable[Finding], torch: TorchChoice | None, *,
                     fresh: bool = False) -> WorkingSet:
    """What the new venv will hold besides torch (see the module's text)."""
    from packaging.version import InvalidVersion, Version

    from repair.backup.snapshot import distributions

    out = WorkingSet(fresh=fresh)
    if fresh or not ctx.venv_exists:
        return out
    drop = {canonical(n) for n in (torch.drop if torch is not None else ())}
    for entry in distributions(ctx, redacted=False):
        key = canonical(str(entry["name"]))
        if key in SEEDED or key in TORCH_FAMILY or _seeded(ctx.site, entry):
            continue
        if key in drop:
            out.moves.append(Move(str(entry["name"]), str(entry["version"]), "removed",
                                  "part of the old torch build"))
            continue
        out.pins[key] = pin_line(str(entry["name"]), str(entry["version"]), entry.get("source"))
        out.versions[key] = str(entry["version"])
    # What the plan moves on purpose: app requirements the kept version does not meet (and
    # the ones not installed at all), the other side of a conflict.
    wanted: list[tuple[Any, str, str | None]] = []
    reqs = ctx.app_requirements
    for line in [*reqs.requirements, *reqs.constraints]:
        req = line.requirement
        if req is None or line.url or line.editable or not ctx.marker_matches(req.marker):
            continue
        wanted.append((req, "the app requires " + str(req).split(";")[0].strip(), None))
    for f in findings:
        text = f.details.get("requirement") if f.id == "dependency-conflict" else None
        if text:
            from packaging.requirements import InvalidRequirement, Requirement

            try:
                wanted.append((Requirement(str(text)), f"{f.id} on {f.subject}", str(text)))
            except InvalidRequirement:
                continue
    for req, why, line_text in wanted:
        key = canonical(req.name)
        if key in TORCH_FAMILY:
            continue
        have = out.versions.get(key)
        if have is None:
            if key not in drop and not any(m.name == req.name for m in out.moves):
                out.moves.append(Move(req.name, None, str(req.specifier) or "any version", why,
                                      line_text))
            continue
        try:
            ok = req.specifier.contains(Version(have), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            del out.pins[key]
            del out.versions[key]
            out.moves.append(Move(req.name, have, str(req.specifier), why, line_text))
    return out


def _seeded(site: Path, entry: Mapping[str, Any]) -> bool:
    """Put there by virtualenv's seeder (``setuptools-X.virtualenv`` beside it): the new venv is
    seeded the same way."""
    folder = re.sub(r"[-_.]+", "_", str(entry["name"]))
    return any((site / f"{n}-{entry['version']}.virtualenv").exists()
               for n in {folder, str(entry["name"])})


def _pin_version(pin: str, expect: Mapping[str, str]) -> tuple[str, str] | None:
    """``(name, version)`` of a pin whose files the backup may give back: ``name==version``
    or ``name @ URL`` (a direct or VCS install: its files, ``direct_url.json`` included, are
    what that URL gave). None for an editable install (its source folder may sit inside the
    old venv) and for a pin without a known version."""
    line = pin.strip()
    if line.startswith("-"):
        return None
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*===?\s*(\S+)$", line)
    if m:
        return m.group(1), m.group(2)
    name = _req_name(line)
    version = expect.get(canonical(name))
    return (name, version) if name and version and "@" in line else None


@dataclass
class Reused:
    """What ``reuse_from_old`` did: ``left`` are the pins still to install."""

    left: list[str] = field(default_factory=list)
    reused: int = 0
    bytes_linked: int = 0
    bytes_copied: int = 0
    reasons: dict[str, str] = field(default_factory=dict)


def reuse_from_old(pins: list[str], old_venv: Path | None, new_venv: Path, *,
                   expect: Mapping[str, str] | None = None, verify_hashes: bool = False,
                   suspects: Iterable[str] = ()) -> Reused:
    """The one place where intact distributions of the old venv (its backup) are brought into
    the new one without an installer (``rebuild.reuse``): each pin kept at the version the old
    venv has, with its files intact there (RECORD sizes; hashes too with ``verify_hashes`` and
    for the ``suspects``, names the plan's findings were about), is linked; the pins left to
    install are returned with the reasons."""
    out = Reused()
    if old_venv is None or not pins or not Path(old_venv).is_dir():
        out.left = list(pins)
        return out
    from repair.rebuild.reuse import reuse_distributions

    expect = expect or {}
    suspect = {canonical(s) for s in suspects}
    by_key: dict[str, str] = {}
    groups: dict[bool, list[tuple[str, str]]] = {False: [], True: []}
    for pin in pins:
        nv = _pin_version(pin, expect)
        if nv is None:
            out.left.append(pin)
            continue
        by_key[canonical(nv[0])] = pin
        groups[verify_hashes or canonical(nv[0]) in suspect].append(nv)
    for hashes, keep in groups.items():
        if not keep:
            continue
        result = reuse_distributions(old_venv, new_venv, keep, verify_hashes=hashes,
                                     kept_with=groups[not hashes])
        out.reused += len(result.reused)
        out.bytes_linked += result.bytes_linked
        out.bytes_copied += result.bytes_copied
        out.reasons.update(result.reasons)
        out.left += [by_key[canonical(name)] for name, _ in result.left_to_install]
    return out


@dataclass(frozen=True)
class ReusePlan:
    """What a rebuild expects to reuse from the old venv (``plan_reuse``): ``reused`` pins of
    the working set (those whose files the findings do not call broken), ``installed`` the
    rest; ``torch``: the torch build is kept and its packages too are reused when intact."""

    enabled: bool
    reused: int = 0
    installed: int = 0
    torch: bool = False
    verify_hashes: bool = False
    suspects: tuple[str, ...] = ()

    def text(self) -> str:
        if not self.enabled:
            return f"{self.installed} installed (--no-reuse)"
        return (f"{self.reused} reused from the old venv where their files are intact, "
                f"{self.installed} installed")

    def to_params(self) -> dict[str, Any]:
        return {"reuse": self.enabled, "verify_hashes": self.verify_hashes,
                "suspects": list(self.suspects)}


def plan_reuse(work: WorkingSet, torch: TorchChoice | None, findings: Iterable[Finding], *,
               enabled: bool, verify_hashes: bool = False) -> ReusePlan:
    """The reuse a rebuild plans: every pin but an editable one and one whose files a finding
    says are broken (a reinstall is its fix); a finding's subject is suspect, its files are
    verified by hash."""
    from repair.model import Fix

    pins = list(work.pins.items()) if not work.fresh else []
    if not enabled:
        return ReusePlan(False, 0, len(pins))
    findings = list(findings)
    suspects = tuple(sorted({canonical(f.subject) for f in findings if f.subject}))
    broken = {canonical(f.subject) for f in findings if f.subject and f.fix is Fix.REINSTALL}
    reused = sum(1 for key, pin in pins if key not in broken
                 and _pin_version(pin, work.versions) is not None)
    keep_torch = torch is not None and torch.keep and not any(
        canonical(_req_name(p)) in broken for p in torch.packages)
    return ReusePlan(True, reused, len(pins) - reused, keep_torch, verify_hashes, suspects)


def reuse_note(done: Reused, downloaded: int | None) -> str:
    """The step's result: distributions reused, bytes linked, bytes downloaded."""
    from repair.progress import human

    text = f"{done.reused} reused ({human(done.bytes_linked, 'B')} linked"
    if done.bytes_copied:
        text += f", {human(done.bytes_copied, 'B')} copied"
    return text + f"), {human(downloaded or 0, 'B')} downloaded"


# ---------------------------------------------------------------------------------------------
# Building


_REDIRECT: bool | None = None


def _virtualenv_has_redirect() -> bool:
    """Does this virtualenv know ``--no-venv-redirect`` (it writes a ``.venv`` file beside the
    venv otherwise, next to a pyproject.toml)? Read from its source: no subprocess."""
    global _REDIRECT
    if _REDIRECT is None:
        import importlib.util

        spec = importlib.util.find_spec("virtualenv")
        found = False
        for folder in (spec.submodule_search_locations or []) if spec else []:
            try:
                text = (Path(folder) / "create" / "creator.py").read_text(encoding="utf-8")
            except OSError:
                continue
            found = "--no-venv-redirect" in text
        _REDIRECT = found
    return _REDIRECT


def virtualenv_args(python: str | Path, dest: Path, *, prompt: str | None = None,
                    setuptools: bool = True) -> list[str]:
    """The one virtualenv command line: quiet, offline seeding, nothing written outside
    ``dest`` (no VCS ignore file, no ``.venv`` redirect file beside it)."""
    args = [sys.executable, "-m", "virtualenv", "-q", "--no-periodic-update", "--no-vcs-ignore"]
    if not setuptools:
        args.append("--no-setuptools")
    if _virtualenv_has_redirect():
        args.append("--no-venv-redirect")
    if prompt:
        args += ["--prompt", prompt]
    return [*args, "-p", str(python), str(dest)]


def create_venv(python: str | Path, dest: Path, *, prompt: str | None = None,
                installer: str = "pip", version: str | None = None,
                setuptools: bool = True) -> str:
    """A new venv at ``dest`` (which may exist, empty or holding only the partial marker).
    ``version``: the interpreter's, when known (spares a probe); ``setuptools``: seed it (pip
    is always seeded)."""
    from repair import proc

    if installer == "uv" and _uv_venv(Path(python), dest, version):
        return "uv venv"
    proc.run(virtualenv_args(python, dest, prompt=prompt, setuptools=setuptools), timeout=600,
             env=proc.clean_env(), check=True)
    return "virtualenv"


def _uv_venv(python: Path, venv: Path, version: str | None) -> bool:
    """``uv venv`` (far faster than virtualenv), seeded offline with virtualenv's own pip and
    setuptools wheels. False (and nothing left behind but what was there) when it fails."""
    from repair import fsops, proc
    from repair.env.packages import find_uv
    from repair.env.pythons import probe_python

    uv = find_uv()
    if uv is None:
        return False
    before = set(os.listdir(venv)) if venv.is_dir() else set()
    try:
        env = proc.clean_env(extra={"UV_NO_CONFIG": "1"})
        proc.run([uv, "venv", "-q", "--allow-existing", "-p", str(python), str(venv)],
                 timeout=300, env=env, check=True)
        if version is None:
            info = probe_python(python)
            here = f"{sys.version_info[0]}.{sys.version_info[1]}"
            version = info.version if info is not None else here
        from virtualenv.seed.wheels import embed

        xy = ".".join(version.split(".")[:2])
        wheels = [w.path for w in (embed.get_embed_wheel(n, xy) for n in ("pip", "setuptools"))
                  if w is not None]
        from repair.env.layout import VenvLayout

        if wheels:
            proc.run([uv, "pip", "install", "-q", "--no-index", "--no-deps", "--python",
                      str(VenvLayout.detect(venv).python), *map(str, wheels)],
                     timeout=300, env=env, check=True)
        return True
    except Exception:  # noqa: BLE001 - virtualenv is the fallback
        if venv.is_dir():
            for child in venv.iterdir():
                if child.name not in before:
                    fsops.guarded_rmtree(child, venv_root=venv)
        return False


def app_folder_written(install: Any, before: set[str], reporter: Reporter) -> list[str]:
    """What a rebuild left in the app folder besides the venv and its backup (names at the top
    level, against ``before``); said either way."""
    from repair.backup.store import backups_root

    allowed = {install.venv.name, backups_root(install).name}
    aside = f".{install.venv.name}.repair-backup-"  # a backup kept beside a venv on another disk
    new = sorted(n for n in set(os.listdir(install.dir)) - before - allowed
                 if not n.startswith(aside))
    if new:
        reporter.warn(f"the rebuild left {', '.join(new)} in {install.dir}")
    else:
        reporter.info(f"nothing was written into {install.dir} but the venv and its backup")
    return new


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def exact_pins(expect: Mapping[str, str], pins: Iterable[str]) -> list[str]:
    """Constraint lines for the kept set: ``name==version`` only (pip takes no URLs there)."""
    wanted = {canonical(re.split(r"[=\s]", p, maxsplit=1)[0]) for p in pins}
    return [f"{k}=={v}" for k, v in sorted(expect.items()) if k in wanted]


def _reuse(params: Mapping[str, Any], pins: list[str], old_venv: Path | None,
           new_venv: Path, reporter: Reporter, *, quiet: bool = False) -> Reused:
    """``reuse_from_old`` as a plan step's parameters ask (``reuse``, ``verify_hashes``,
    ``suspects``), said on the reporter (``quiet``: what is left was said before)."""
    if not params.get("reuse", True) or not pins:
        return Reused(left=list(pins))
    done = reuse_from_old(pins, old_venv, new_venv, expect=params.get("expect", {}),
                          verify_hashes=bool(params.get("verify_hashes")),
                          suspects=params.get("suspects", []))
    if done.reused:
        reporter.info(f"{done.reused} distribution(s) reused from the old venv "
                      f"({human_bytes(done.bytes_linked)} linked)")
    for name, why in sorted(done.reasons.items()) if not quiet else ():
        reporter.info(f"{name}: installed, not reused ({why})")
    return done


def install_torch(python: Path, params: Mapping[str, Any], *, work: Path, keep: Mapping[str, Any]
                  | None, index: IndexOptions, log: Path, reporter: Reporter,
                  installer: str, old_venv: Path | None = None,
                  on_start: Callable[[int], None] | None = None) -> str:
    """The torch step: its packages first, the kept set's versions as constraints for its
    dependencies (so that they come back at the versions they had). With the old venv: the
    kept set and, when the build is kept, torch itself are reused from it first; only what is
    left is installed (nothing at all when everything was intact)."""
    from repair.env.packages import pip_install

    choice = TorchChoice(params.get("backend"), tuple(params["requirements"]),
                         params.get("index_url"), params.get("extra_index_url"))
    packages = list(choice.packages)
    done = Reused()
    if keep and old_venv is not None:
        kept = list(keep.get("pins", []))
        own = packages if params.get("keep") and not params.get("force_reinstall") else []
        done = _reuse({**keep, "reuse": keep.get("reuse", True) and params.get("reuse", True)},
                      [*kept, *own], old_venv, python.parent.parent, reporter)
        packages = [p for p in packages if p in done.left or p not in own]
        if own and not packages:
            return f"0 installed, {reuse_note(done, 0)}"
    args = list(packages)
    if keep and keep.get("expect"):
        args += ["-c", str(write_lines(work / "keep-constraints.txt",
                                       exact_pins(keep["expect"], keep.get("pins", []))))]
    if params.get("force_reinstall"):
        args.append("--force-reinstall")
    stats = pip_install(python, args, log_path=log, reporter=reporter, installer=installer,
                        index=torch_index(choice, index),
                        label=f"installing torch for {choice.backend or 'this machine'}",
                        on_start=on_start)
    note = f"{len(stats.installed)} installed"
    return f"{note}, {reuse_note(done, stats.downloaded)}" if done.reused else \
        f"{note}, {human_bytes(stats.downloaded)} downloaded"


def human_bytes(n: int) -> str:
    from repair.progress import human

    return human(n, "B")


def install_set(python: Path, params: Mapping[str, Any], *, work: Path, old_venv: Path | None,
                index: IndexOptions, log: Path, reporter: Reporter, installer: str,
                torch_pins: Iterable[str] = (),
                on_start: Callable[[int], None] | None = None) -> str:
    """The kept set as exact pins (``--no-deps``: what worked comes back as it was), then the
    requirement files, resolved, when something moves (or for a fresh set); torch and the kept
    versions constrain that resolution. Pins whose files are intact in the old venv are
    reused from it (``reuse_from_old``) rather than installed."""
    from repair.env.packages import pip_install

    torch_pins = list(torch_pins)
    # After a torch step the kept set was reused there: only what it left is installed here.
    done = _reuse(params, list(params.get("pins", [])), old_venv, python.parent.parent,
                  reporter, quiet=bool(torch_pins))
    pins = done.left
    installed = 0
    downloaded = 0
    if pins:
        args = ["--no-deps", "-r", str(write_lines(work / "keep.txt", pins))]
        stats = pip_install(python, args, log_path=log, reporter=reporter, installer=installer,
                            index=index, label=f"installing the {len(pins)} kept distributions",
                            on_start=on_start)
        installed += len(stats.installed)
        downloaded += stats.downloaded
    files = list(params.get("files", []))
    moves = params.get("moves", [])
    if (files or moves) and (moves or params.get("fresh") or not params.get("pins")):
        args = []
        for f in files:
            args += ["-r", str(f)]
        for c in params.get("constraints", []):
            args += ["-c", str(c)]
        constraints = list(torch_pins)
        constraints += exact_pins(params.get("expect", {}), params.get("pins", []))
        if constraints:
            args += ["-c", str(write_lines(work / "constraints.txt", constraints))]
        args += [str(m["requirement"]) for m in moves if m.get("requirement")]
        stats = pip_install(python, args, log_path=log, reporter=reporter, installer=installer,
                            index=index, label="installing the requirements",
                            on_start=on_start)
        installed += len(stats.installed)
        downloaded += stats.downloaded
    if not done.reused and (torch_pins or not params.get("reuse", True)):
        return f"{installed} installed, {human_bytes(downloaded)} downloaded"
    return f"{installed} installed, {reuse_note(done, downloaded)}"


# ---------------------------------------------------------------------------------------------
# Verifying


def verify_set(venv: Path, expect: Mapping[str, str], moves: Iterable[Mapping[str, Any]] = (),
               torch: Iterable[str] = ()) -> list[str]:
    """What the new venv has that the plan did not intend: a planned distribution missing or at
    another version, a moved one missing. Empty when it is as planned."""
    from packaging.version import InvalidVersion, Version

    from repair.env.dists import scan_site
    from repair.env.layout import VenvLayout

    have = {d.key: d.version for d in scan_site(VenvLayout.detect(venv).site_packages()).dists
            if d.has_metadata}

    def same(a: str, b: str) -> bool:
        try:
            return Version(a) == Version(b)
        except InvalidVersion:
            return a == b

    wanted = dict(expect)
    for line in torch:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*===?\s*(\S+)$", line.strip())
        if m:
            wanted[canonical(m.group(1))] = m.group(2)
        else:
            wanted.setdefault(canonical(_req_name(line)), "")
    problems = []
    for key, version in sorted(wanted.items()):
        got = have.get(key)
        if got is None:
            problems.append(f"{key} is missing (planned: {version or 'any version'})")
        elif version and not same(got, version):
            problems.append(f"{key} is {got}, planned {version}")
    for move in moves:
        if move.get("to") == "removed":
            continue
        if canonical(str(move["name"])) not in have:
            problems.append(f"{move['name']} is missing (planned: {move.get('to')})")
    return problems


# ---------------------------------------------------------------------------------------------
# Preflight


def index_preflight(requirements: Iterable[Any], target: Any, options: Mapping[str, Any], *,
                    torch: Mapping[str, Any] | None, reporter: Reporter,
                    requirement_options: Any = None, venv: Path | None = None) -> PreflightResult:
    """The index preflight of ``requirements`` (strings or ``Requirement`` objects) and of the
    torch step's packages (``torch``: its parameters) for ``target`` (``repair.index.tags``),
    from the sources pip would use with ``options``. Shared by ``check --online``, the pipeline
    and ``repair install``."""
    from repair.index.config import load_pip_config
    from repair.index.preflight import preflight as run

    torch = torch or {}
    packages = [str(p) for p in torch.get("requirements", [])]
    torch_url = torch.get("index_url") or torch.get("extra_index_url")
    torch_names = {canonical(_req_name(p)) for p in packages}
    wanted: list[Any] = [r for r in requirements
                         if canonical(r.name if hasattr(r, "name") else _req_name(str(r)))
                         not in torch_names and not str(r).startswith("-e ")]
    wanted += packages
    options = dict(options)
    folder = _local_folder(torch_url)
    if folder is not None:  # a folder of wheels: pip gets it as --find-links
        options["find_links"] = [*(options.get("find_links") or ()), str(folder)]
        torch_url = None
    config = load_pip_config(venv=venv, options=options,
                             requirements_options=requirement_options)
    return run(wanted, target, config, torch_index=torch_url,
               offline=bool(options.get("offline")), reporter=reporter,
               torch_packages=torch_names or TORCH_FAMILY)


def preflight(requirements: Iterable[Any], python: str | Path, options: Mapping[str, Any], *,
              torch: Mapping[str, Any] | None, reporter: Reporter, requirement_options: Any = None,
              venv: Path | None = None, hint: str = "nothing was changed",
              needs: str = "the rebuild") -> None:
    """Before anything is built: can the package sources provide what the rebuild installs, for
    the interpreter the rebuild uses (probed: this machine's real platform and C library)?
    Raises ``PreflightError`` (exit 1) when they cannot; a preflight that cannot run is a
    warning."""
    from repair.env.interp import ProbeError, probe
    from repair.index.tags import TargetError, target_from_interpreter
    from repair.model import Severity

    requirements = list(requirements)
    if not requirements and not (torch or {}).get("requirements"):
        return
    try:
        target = target_from_interpreter(probe(Path(python)))
        result = index_preflight(requirements, target, options, torch=torch, reporter=reporter,
                                 requirement_options=requirement_options, venv=venv)
    except (ProbeError, TargetError, ValueError) as exc:
        reporter.warn(f"the index preflight could not run: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - a preflight that cannot run does not block
        reporter.warn(f"the index preflight could not run: {type(exc).__name__}: {exc}")
        return
    blocking = [f for f in result.findings if f.severity is Severity.ERROR]
    unchecked = list(result.unchecked)
    if unchecked and not blocking:
        # One line: the unreachable source is named once, not once per requirement.
        from repair.render import fold

        reporter.warn(f"{len(unchecked)} requirement(s) not checked against an index "
                      f"({unchecked[0].reason}): {fold([str(u.requirement) for u in unchecked])}")
    if blocking:
        raise PreflightError(
            f"the package index cannot provide what {needs} needs: "
            + "; ".join(f.message for f in blocking[:3]),
            hint=f"{hint}; fix the package sources, or run again with --force")
