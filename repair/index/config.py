"""The package sources pip would use, read the way pip reads them, with where each came from.

Order (later wins), as pip's ``Configuration`` loads it for ``pip install``:

1. config files: global (``/etc/xdg/pip/pip.conf``, ``/etc/pip.conf``; macOS
   ``/Library/Application Support/pip/pip.conf``; Windows ``C:\\ProgramData\\pip\\pip.ini``),
   user (``~/.pip/pip.conf`` or ``%HOME%\\pip\\pip.ini``, then ``~/.config/pip/pip.conf``;
   macOS ``~/Library/Application Support/pip/pip.conf``; Windows ``%APPDATA%\\pip\\pip.ini``;
   skipped when ``PIP_CONFIG_FILE`` names an existing file), site (``<venv>/pip.conf`` or
   ``pip.ini``), then the file ``PIP_CONFIG_FILE`` names. ``PIP_CONFIG_FILE=os.devnull`` loads
   no file at all. The ``[global]`` section of every file comes first, then ``[install]``.
2. ``PIP_*`` environment variables.
3. the command's own options (``--index-url``, ``--extra-index-url``, ``--find-links``); list
   options add to what the configuration gives, as pip's do.
4. options inside requirements files: ``--index-url`` replaces every index, ``--no-index``
   drops them, ``--extra-index-url`` and ``--find-links`` add.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from repair.options import IndexOptions
from repair.proc import redact

PYPI_SIMPLE = "https://pypi.org/simple"
DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRIES = 5

# config key (pip's long option name) -> our field
_KEYS = {
    "index-url": "index_url",
    "extra-index-url": "extra_index_urls",
    "find-links": "find_links",
    "no-index": "no_index",
    "trusted-host": "trusted_hosts",
    "cert": "cert",
    "client-cert": "client_cert",
    "proxy": "proxy",
    "default-timeout": "timeout",  # the older spelling; PIP_TIMEOUT wins when both are set
    "timeout": "timeout",
    "retries": "retries",
}
_LISTS = {"extra_index_urls", "find_links", "trusted_hosts"}
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


@dataclass(frozen=True)
class Origin:
    """One setting and where it came from (``PIP_INDEX_URL``, ``/etc/pip.conf [global]``,
    ``--index-url``, ``requirements file``, ``default``). Values are redacted."""

    key: str
    value: str
    source: str


@dataclass(frozen=True)
class PipConfig:
    index_url: str = PYPI_SIMPLE
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    client_cert: str | None = None
    proxy: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    offline: bool = False  # the tool's own --offline: no network at all
    origins: tuple[Origin, ...] = ()
    files: tuple[Path, ...] = ()  # config files that were read
    problems: tuple[str, ...] = ()  # unreadable files, bad values (pip would refuse them)

    @property
    def index_urls(self) -> tuple[str, ...]:
        """Every index pip asks, first the main one; none with ``--no-index``."""
        if self.no_index:
            return ()
        return (self.index_url, *self.extra_index_urls)

    def source_of(self, key: str) -> str:
        """Where the (last) value of ``key`` came from; ``default`` when nothing set it."""
        for origin in reversed(self.origins):
            if origin.key == key:
                return origin.source
        return "default"

    def to_json(self) -> dict[str, Any]:
        return {
            "index_urls": [redact(u) for u in self.index_urls],
            "find_links": [redact(u) for u in self.find_links],
            "no_index": self.no_index,
            "offline": self.offline,
            "trusted_hosts": list(self.trusted_hosts),
            "timeout": self.timeout,
            "retries": self.retries,
            "origins": [{"key": o.key, "value": o.value, "source": o.source} for o in self.origins],
            "problems": list(self.problems),
        }


def config_file_locations(
    *,
    environ: Mapping[str, str],
    platform: str = sys.platform,
    venv: Path | None = None,
    global_dirs: Sequence[Path] | None = None,
) -> dict[str, list[Path]]:
    """pip's config file candidates by kind (``global``, ``user``, ``site``, ``env``)."""
    windows = platform.startswith("win")
    name = "pip.ini" if windows else "pip.conf"
    home = Path(environ.get("USERPROFILE" if windows else "HOME") or Path.home())
    if global_dirs is None:
        if windows:
            global_dirs = [Path(environ.get("PROGRAMDATA", r"C:\ProgramData")) / "pip"]
        elif platform == "darwin":
            global_dirs = [Path("/Library/Application Support/pip")]
        else:
            xdg = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
            global_dirs = [Path(d) / "pip" for d in xdg.split(os.pathsep) if d] + [Path("/etc")]
    if windows:
        user_dir = Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "pip"
        legacy = home / "pip" / name
    elif platform == "darwin":
        mac = home / "Library" / "Application Support" / "pip"
        user_dir = mac if mac.is_dir() else home / ".config" / "pip"
        legacy = home / ".pip" / name
    else:
        user_dir = Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip"
        legacy = home / ".pip" / name
    env_file = environ.get("PIP_CONFIG_FILE")
    return {
        "global": [Path(d) / name for d in global_dirs],
        "user": [legacy, user_dir / name],
        "site": [venv / name] if venv is not None else [],
        "env": [Path(env_file)] if env_file else [],
    }


def _split(value: str) -> list[str]:
    return value.split()


def _read_file(path: Path) -> dict[str, dict[str, str]] | str:
    """Sections of one config file, or a one-line problem."""
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8-sig") as fh:
            parser.read_file(fh)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"pip config file {path} cannot be read: {reason}"
    return {
        s: {k.lower().replace("_", "-"): v for k, v in parser.items(s)} for s in parser.sections()
    }


class _Builder:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.origins: list[Origin] = []
        self.problems: list[str] = []

    def set(self, key: str, raw: str | list[str] | bool, source: str, *, add: bool = False) -> None:
        field_name = _KEYS.get(key, key)
        value: Any
        if field_name in _LISTS:
            assert not isinstance(raw, bool), f"{key} takes a list of values"
            items = _split(raw) if isinstance(raw, str) else list(raw)
            value = [*self.values.get(field_name, []), *items] if add else items
            for item in items:
                self.origins.append(Origin(field_name, redact(item), source))
            self.values[field_name] = value
            return
        value = raw
        if field_name == "no_index" and not isinstance(raw, bool):
            text = str(raw).strip().lower()
            if text not in _TRUE | _FALSE:
                self.problems.append(f"{source}: no-index = {raw!r} is not a yes/no value")
                return
            value = text in _TRUE
        elif field_name == "timeout":
            try:
                value = float(str(raw))
            except ValueError:
                self.problems.append(f"{source}: timeout = {raw!r} is not a number")
                return
        elif field_name == "retries":
            try:
                value = int(str(raw))
            except ValueError:
                self.problems.append(f"{source}: retries = {raw!r} is not a whole number")
                return
        self.values[field_name] = value
        self.origins.append(Origin(field_name, redact(str(value)), source))


def load_pip_config(
    *,
    venv: Path | None = None,
    environ: Mapping[str, str] | None = None,
    index: IndexOptions | None = None,
    requirements_options: Mapping[str, Any] | None = None,
    requirements_source: str = "requirements file",
    platform: str = sys.platform,
    global_dirs: Sequence[Path] | None = None,
) -> PipConfig:
    """The sources ``pip install`` would use for ``venv``.

    ``index``: the command's pass-through options (``--index-url`` and the rest).
    ``requirements_options``: ``ReqSet.options`` of the parsed requirements files.
    """
    env = dict(os.environ if environ is None else environ)
    b = _Builder()
    files: list[Path] = []
    locations = config_file_locations(
        environ=env, platform=platform, venv=venv, global_dirs=global_dirs
    )
    env_file = locations["env"][0] if locations["env"] else None
    kinds = ["global", "user", "site", "env"]
    if env_file is not None and os.path.exists(env_file):
        kinds.remove("user")  # pip skips the user file when PIP_CONFIG_FILE exists
    loaded: list[tuple[Path, dict[str, dict[str, str]]]] = []
    if env_file is None or str(env_file) != os.devnull:
        for kind in kinds:
            for path in locations[kind]:
                if not path.is_file():
                    continue
                sections = _read_file(path)
                if isinstance(sections, str):
                    b.problems.append(sections)
                    continue
                files.append(path)
                loaded.append((path, sections))
    for section in ("global", "install"):
        for path, sections in loaded:
            for key, value in sections.get(section, {}).items():
                if key in _KEYS:
                    b.set(key, value, f"{path} [{section}]")
    for key in _KEYS:
        var = "PIP_" + key.upper().replace("-", "_")
        if var in env:
            b.set(key, env[var], var)
    index = index or IndexOptions()
    if index.index_url:
        b.set("index-url", index.index_url, "--index-url")
    for key, given in (
        ("extra-index-url", index.extra_index_urls),
        ("find-links", index.find_links),
    ):
        if given:
            b.set(key, list(given), f"--{key}", add=True)
    req = dict(requirements_options or {})
    if req.get("no_index"):
        b.set("no-index", True, requirements_source)
    if req.get("index_url") and not b.values.get("no_index"):
        b.set("index-url", str(req["index_url"]), requirements_source)
        b.values["extra_index_urls"] = []  # pip: a file's --index-url replaces every index
    for key, opt in (
        ("extra-index-url", "extra_index_urls"),
        ("find-links", "find_links"),
        ("trusted-host", "trusted_hosts"),
    ):
        if req.get(opt):
            b.set(key, list(req[opt]), requirements_source, add=True)
    if index.offline:
        b.origins.append(Origin("offline", "True", "--offline"))
    v = b.values
    return PipConfig(
        index_url=str(v.get("index_url") or PYPI_SIMPLE),
        extra_index_urls=tuple(v.get("extra_index_urls", ())),
        find_links=tuple(v.get("find_links", ())),
        no_index=bool(v.get("no_index", False)),
        trusted_hosts=tuple(v.get("trusted_hosts", ())),
        cert=v.get("cert") or None,
        client_cert=v.get("client_cert") or None,
        proxy=v.get("proxy") or None,
        timeout=float(v.get("timeout", DEFAULT_TIMEOUT)),
        retries=int(v.get("retries", DEFAULT_RETRIES)),
        offline=index.offline,
        origins=tuple(b.origins),
        files=tuple(files),
        problems=tuple(b.problems),
    )


def isolated_config(**values: Any) -> PipConfig:
    """A configuration that reads nothing from the machine (tests, benchmarks, snapshots)."""
    base = PipConfig()
    return replace(base, **values) if values else base


__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "PYPI_SIMPLE",
    "Origin",
    "PipConfig",
    "config_file_locations",
    "isolated_config",
    "load_pip_config",
]
