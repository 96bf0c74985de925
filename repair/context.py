"""The context passed to every check: the install, the options, and facts about the venv that are
computed once, lazily, on first use."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.target import Install
from repair.cache.site import DistCache, probe
from repair.env.dists import Dist, SiteScan, load_dist, scan_site
from repair.env.interp import InterpreterInfo, ProbeError, estimate
from repair.env.layout import (
    PyvenvCfg,
    PyvenvCfgError,
    VenvLayout,
    _version_from_lib,
    embedded_version,
    read_pyvenv_cfg,
)
from repair.options import CheckOptions
from repair.progress import Reporter

if TYPE_CHECKING:
    from packaging.markers import Marker

    from repair.app.requirements import ReqSet
    from repair.app.target import RequirementSource
    from repair.cache.store import StatKey, Store
    from repair.checks.deep import DeepResult
    from repair.env.backend import MachineBackend
    from repair.env.ownership import Ownership
    from repair.env.torchbuild import TorchBuild
    from repair.index.preflight import PreflightResult


class Context:
    def __init__(
        self,
        install: Install,
        options: CheckOptions | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.install = install
        # What the command was asked (a ``RepairOptions`` in the repair pipeline).
        self.options = options if options is not None else CheckOptions()
        self.reporter = reporter or Reporter()
        # What checks add to the report's JSON beside the findings (--pre-update's "update").
        self.report_extra: dict[str, Any] = {}
        # What ``check --deep`` saw in the venv's python, for the report's backend line.
        self.deep: DeepResult | None = None
        # The venv's check cache, opened by the check runner (None: no venv, or caching off).
        self.cache_store: Store | None = None
        self.dist_cache: DistCache | None = None
        # Which distribution owns which file (``repair.env.ownership.ownership``, once).
        self.site_ownership: Ownership | None = None
        # The folders the file checks walked (from the cache, or as they walked them), and their
        # stat keys when known (``repair.cache.site``).
        self.memo_dirs: list[str] | None = None
        self.memo_dir_keys: list[StatKey | None] | None = None
        # What the checks of the venv's files read, when their findings came from the cache.
        self.cached_env_stamp: list[Any] | None = None
        # Files and bytes hashed by --verify-files.
        self.verify_stats: dict[str, int] | None = None
        # What ``check --online``'s index preflight found.
        self.preflight: PreflightResult | None = None
        # The threads computing facts in the background (``start_background``).
        self._threads: list[threading.Thread] = []

    # -- the venv -----------------------------------------------------------------------------
    @property
    def venv(self) -> Path:
        return self.install.venv

    @cached_property
    def layout(self) -> VenvLayout:
        return VenvLayout.detect(self.venv)

    @cached_property
    def venv_exists(self) -> bool:
        return self.venv.is_dir()

    @cached_property
    def _cfg(self) -> tuple[PyvenvCfg | None, str | None]:
        path = self.layout.cfg_path
        if not path.exists():
            if self.layout.embedded or self.install.layout == "no-venv":
                return None, None  # an embedded Python has a ._pth file; no venv has none
            return None, "pyvenv.cfg is missing"
        try:
            return read_pyvenv_cfg(path), None
        except PyvenvCfgError as exc:
            return None, str(exc)

    @property
    def cfg(self) -> PyvenvCfg | None:
        return self._cfg[0]

    @property
    def cfg_error(self) -> str | None:
        return self._cfg[1]

    @cached_property
    def _probe(self) -> tuple[InterpreterInfo | None, str | None]:
        if not self.venv_exists:
            return None, "the venv does not exist"
        if self.layout.is_foreign:
            return None, None  # cannot run here; not a fault of the venv
        python = self.layout.python
        if not python.exists():
            return None, f"{python.relative_to(self.venv)} is missing or a broken link"
        try:
            return probe(self, self.cache_store), None
        except ProbeError as exc:
            return None, str(exc)

    def start_background(self, *names: str) -> None:
        """Compute these cached facts in threads (they wait on subprocesses: the interpreter
        probe, nvidia-smi) while the caller reads files; ``join_background`` waits for them."""
        for name in names:
            thread = threading.Thread(target=getattr, args=(self, name), daemon=True)
            thread.start()
            self._threads.append(thread)

    def join_background(self) -> None:
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()

    def computed(self, name: str) -> bool:
        """Whether the lazy fact ``name`` (a cached property) has been computed already."""
        return name in self.__dict__

    @property
    def interp(self) -> InterpreterInfo | None:
        """What the venv's python reported, or None when it could not run (see probe_error)."""
        return self._probe[0]

    @property
    def probe_error(self) -> str | None:
        return self._probe[1]

    @cached_property
    def python_info(self) -> InterpreterInfo:
        """The interpreter's own answer, or an estimate from pyvenv.cfg and the layout."""
        if self.interp is not None:
            return self.interp
        version = self.cfg.version if self.cfg else None
        if version is None and self.layout.embedded:
            found = embedded_version(self.venv)
            version = found[0] if found else None
        if version is None:
            version = _version_from_lib(self.venv)
        return estimate(version, windows=self.layout.windows)

    @property
    def markers(self) -> dict[str, str]:
        return self.python_info.markers

    # -- site-packages -------------------------------------------------------------------------
    @cached_property
    def site(self) -> Path:
        return self.layout.site_packages(self.cfg.version if self.cfg else None)

    @cached_property
    def scan(self) -> SiteScan:
        cache = self.dist_cache
        return scan_site(self.site, cache.load if cache is not None else load_dist)

    @cached_property
    def installed(self) -> dict[str, Dist]:
        return self.scan.installed()

    # -- the application's requirements --------------------------------------------------------
    @cached_property
    def app_requirements(self) -> ReqSet:
        """The manifest's requirements files, then its constraint files, parsed as pip would."""
        # lazy: a check served from the cache does not parse requirements
        from repair.app.reqfiles import parse_file
        from repair.app.requirements import ReqSet

        result = ReqSet()
        seen: set[Path] = set()
        for source in self.install.requirement_sources():
            if source.is_app and source.path.is_file():
                parse_file(source.path, constraint=source.constraint, _set=result, _seen=seen)
        return result

    @cached_property
    def node_requirements(self) -> list[tuple[RequirementSource, ReqSet]]:
        """Each custom node's or extension's requirements file, parsed on its own (a node's
        ``-r`` of the app's file is read again for it: it is what the node asks for)."""
        # lazy: a check served from the cache does not parse requirements
        from repair.app.reqfiles import parse_file

        out: list[tuple[RequirementSource, ReqSet]] = []
        for source in self.install.requirement_sources():
            if not source.is_app:
                out.append(
                    (source, parse_file(source.path, constraint=source.constraint, _seen=set()))
                )
        return out

    def requirement_sets(self) -> list[tuple[RequirementSource | None, ReqSet]]:
        """The application's requirements (source None), then each node's or extension's."""
        return [(None, self.app_requirements), *self.node_requirements]

    def marker_matches(self, marker: Marker | None, extras: tuple[str, ...] = ("",)) -> bool:
        """Evaluate a requirement's marker for the VENV's interpreter, for any of ``extras``."""
        # lazy: app.conflicts is slow to import; a cached check evaluates no marker
        from repair.env.requires import marker_holds

        return marker_holds(marker, self.markers, extras)

    # -- the GPU backend and the torch build ----------------------------------------------------
    @cached_property
    def machine_backend(self) -> MachineBackend:
        """The machine's backend (or ``--backend``). Runs probes: ask only when the answer is
        needed (torch installed, --backend or --deep)."""
        from repair.env.backend import detect  # lazy: only probed when the backend is asked for

        return detect(self.options.backend)

    @property
    def backend_wanted(self) -> bool:
        """Whether the machine's backend is worth probing for in this run."""
        return bool(
            self.options.backend
            or self.options.deep
            or (self.venv_exists and "torch" in self.installed)
        )

    @cached_property
    def torch_build(self) -> TorchBuild | None:
        """The installed torch build, from its metadata (None when torch is not installed)."""
        if not self.venv_exists:
            return None
        dist = self.installed.get("torch")
        if dist is None:
            return None
        from repair.env.torchbuild import from_dist  # lazy: only when torch is installed

        markers = self.markers

        def marker_ok(text: str) -> bool:
            # lazy: packaging is heavy
            from packaging.requirements import InvalidRequirement, Requirement

            try:
                return self.marker_matches(Requirement(text).marker)
            except InvalidRequirement:
                return False

        return from_dist(
            dist,
            self.installed,
            sys_platform=markers.get("sys_platform", ""),
            platform_machine=markers.get("platform_machine", ""),
            marker_ok=marker_ok,
        )
