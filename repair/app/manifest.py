"""Application manifests: what an app needs, as data (``manifests/*.toml``).

Schema 1 (documented in ``manifests/SCHEMA.md``). Only ``schema``, ``name`` and ``title`` are
required; everything else has a default. The loader validates and names the file, the key and the
problem.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir, user_config_dir

from repair import __version__
from repair.app.schema import BACKENDS, SCHEMA_VERSION, validate, validate_conflicts
from repair.errors import UsageError
from repair.saferead import read_regular


class ManifestError(UsageError):
    """A manifest that cannot be used: the message names the file, the key and the problem."""


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib  # lazy: only a manifest the cache has not seen is parsed
    else:  # pragma: no cover - exercised on 3.10
        import tomli as tomllib  # lazy: only a manifest the cache has not seen is parsed
    try:
        return tomllib.loads(text)
    except RecursionError as exc:  # arrays or tables nested hundreds deep: bounded, one line
        raise _TooDeep("nested more deeply than any manifest needs") from exc


class _TooDeep(ValueError):
    pass


def _toml_error() -> tuple[type[Exception], ...]:
    if sys.version_info >= (3, 11):
        import tomllib  # lazy: as in _toml_loads
    else:  # pragma: no cover
        import tomli as tomllib  # lazy: as in _toml_loads
    return (tomllib.TOMLDecodeError, _TooDeep)


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    data: dict[str, Any] = field(repr=False)
    source: str = "built-in"  # the file it came from

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    # The keys other code reads, with their defaults.
    @property
    def repository_url(self) -> str | None:
        url = self.get("repository.url")
        return str(url) if url else None

    @property
    def branch(self) -> str:
        return str(self.get("repository.branch", "main"))

    @property
    def venv_dirs(self) -> list[str]:
        return list(self.get("venv.dirs", ["venv", ".venv"]))

    @property
    def venv_settings(self) -> list[str]:
        """Names of webui-user variables that move the venv (``VENV_DIR``, ``venv_dir``)."""
        return list(self.get("venv.settings", []))

    @property
    def python_supported(self) -> str:
        return str(self.get("python.supported", ""))

    @property
    def python_recommended(self) -> str:
        return str(self.get("python.recommended", ""))

    @property
    def requirement_files(self) -> list[str]:
        return list(self.get("requirements.files", ["requirements.txt"]))

    @property
    def constraint_files(self) -> list[str]:
        return list(self.get("requirements.constraints", []))

    def files_under(self, root: Path) -> tuple[list[Path], list[Path]]:
        """The requirement files and constraint files of the app at ``root`` that exist, in the
        manifest's order (``Install.requirement_sources`` adds the custom nodes' files)."""
        reqs = [root / r for r in self.requirement_files if (root / r).is_file()]
        cons = [root / r for r in self.constraint_files if (root / r).is_file()]
        return reqs, cons

    @property
    def user_data(self) -> list[str]:
        return list(self.get("user_data.paths", []))

    @property
    def restart_packages(self) -> list[str]:
        return list(self.get("restart.packages", []))

    @property
    def model_dirs(self) -> list[str]:
        """Folders (relative to the app) that hold model files."""
        return list(self.get("models.paths", ["models"]))

    @property
    def deep_modules(self) -> list[str]:
        return list(self.get("deep.modules", []))

    @property
    def settings_files(self) -> list[str]:
        return list(self.get("launch.settings_files", ["webui-user.bat", "webui-user.sh"]))

    def torch_for(self, backend: str) -> dict[str, Any] | None:
        """``[torch.<backend>]``: ``packages`` (requirement strings) and ``index_url``; None when
        the application does not support the backend."""
        value = self.get(f"torch.{backend}")
        return dict(value) if isinstance(value, dict) else None

    @property
    def torch_backends(self) -> list[str]:
        torch = self.get("torch", {})
        return [b for b in BACKENDS if isinstance(torch, dict) and b in torch]

    @property
    def launch_scripts(self) -> list[str]:
        """Launchers whose command line takes the arguments where no settings file does."""
        return list(self.get("launch.scripts", []))

    def launch_flag(self, purpose: str) -> str:
        """``[launch.flags]``: the arguments for a purpose (cpu, low_vram, fp32_vae, full_precision,
        no_xformers) in this application, or "" when it has none."""
        return str(self.get(f"launch.flags.{purpose}", ""))

    def recommended_args(self, backend: str) -> str:
        return str(self.get(f"launch.recommended.{backend}", ""))

    @cached_property
    def conflicts(self) -> list[dict[str, Any]]:
        """Known-conflict rules: those of the ``include`` files (read on first use, so that
        detection does not pay for them), then the manifest's own."""
        rules: list[dict[str, Any]] = []
        owner = Path(self.source) if self.source != "built-in" else None
        for rel in self.get("include", []):
            rules.extend(load_rules_file(_find_include(str(rel), owner)))
        return rules + list(self.get("conflicts", []))


# ---------------------------------------------------------------------------------------------
# Reading manifest and rules files


def parse_manifest(text: str, source: str) -> Manifest:
    try:
        data = _toml_loads(text)
    except _toml_error() as exc:
        raise ManifestError(f"{source}: not valid TOML: {exc}") from exc
    problems = validate(data)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ManifestError(f"{source}: {problems[0]}{more}")
    return Manifest(name=data["name"], title=data["title"], data=data, source=source)


def load_file(path: Path) -> Manifest:
    """A manifest file, parsed and validated, or taken from the cache of files already
    validated (keyed by path, size and modification time; TOML parsing is the slow part of
    ``repair check``'s start-up)."""
    cache = _ParsedCache.get()
    data = cache.lookup(path)
    if data is not None:
        return Manifest(name=data["name"], title=data["title"], data=data, source=str(path))
    manifest = parse_manifest(_read_text(path), str(path))
    cache.store(path, manifest.data)
    return manifest


class _ParsedCache:
    """Validated manifest data in one JSON file in the user cache folder."""

    _instance: _ParsedCache | None = None

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.entries: dict[str, Any] = {}
        if file is None:
            return
        try:
            entries = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            entries = {}
        self.entries = entries if isinstance(entries, dict) else {}

    @staticmethod
    def _file() -> Path | None:
        folder = Path(user_cache_dir("webui-repair", appauthor=False))
        return folder / f"manifests-{__version__}.json"

    @classmethod
    def get(cls) -> _ParsedCache:
        # One per process and cache file (the tests move the cache folder between runs).
        file = cls._file()
        if cls._instance is None or cls._instance.file != file:
            cls._instance = cls(file)
        return cls._instance

    @staticmethod
    def _key(path: Path) -> str | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def lookup(self, path: Path) -> dict[str, Any] | None:
        key = self._key(path)
        value = self.entries.get(key) if key else None
        return value if isinstance(value, dict) else None

    def store(self, path: Path, data: dict[str, Any]) -> None:
        key = self._key(path)
        if key is None or self.file is None:
            return
        self.entries = {
            k: v for k, v in self.entries.items() if not k.startswith(f"{path.resolve()}|")
        }
        self.entries[key] = data
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(tmp, self.file)
        except (OSError, TypeError, ValueError):
            pass  # a cache that cannot be written costs time, never correctness


def check_file(path: Path) -> list[str]:
    """Every problem of a manifest file (or a shared rules file), each as ``FILE: key: problem``;
    empty when it is valid. Included rules files are checked too."""
    try:
        text = _read_text(path)
    except ManifestError as exc:
        return [exc.message]
    try:
        data = _toml_loads(text)
    except _toml_error() as exc:
        return [f"{path}: not valid TOML: {exc}"]
    if "name" not in data and "title" not in data and "conflicts" in data:
        try:
            load_rules_file(path)  # a shared rules file
        except ManifestError as exc:
            return [exc.message]
        return []
    problems = [f"{path}: {p}" for p in validate(data)]
    includes = data.get("include")
    if isinstance(includes, list) and not problems:
        for rel in includes:
            try:
                load_rules_file(_find_include(str(rel), path))
            except ManifestError as exc:
                problems.append(exc.message)
    return problems


def describe(manifest: Manifest) -> dict[str, Any]:
    """The manifest as JSON-ready data, with the included rules merged in."""
    data = dict(manifest.data)
    data["conflicts"] = manifest.conflicts
    data["source"] = manifest.source
    return data


def _find_include(rel: str, owner: Path | None) -> Path:
    """An included rules file: next to the manifest first, then on the search path."""
    folders = ([owner.parent] if owner is not None else []) + search_path()
    for folder in folders:
        candidate = folder / rel
        if candidate.is_file():
            return candidate
    raise ManifestError(f"{owner or 'built-in'}: include: no such rules file {rel!r}")


def load_rules_file(path: Path) -> list[dict[str, Any]]:
    """A shared rules file: ``schema = 1`` and a ``[[conflicts]]`` array, nothing else."""
    text = _read_text(path)
    try:
        data = _toml_loads(text)
    except _toml_error() as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from exc
    problems = []
    if data.get("schema") != SCHEMA_VERSION:
        problems.append("schema: missing or not 1")
    for key in data:
        if key not in ("schema", "conflicts", "description"):
            problems.append(f"{key}: unknown key in a rules file (only schema and conflicts)")
    problems.extend(validate_conflicts(data))
    if problems:
        raise ManifestError(f"{path}: {problems[0]}")
    return list(data.get("conflicts", []))


def _read_text(path: Path) -> str:
    try:
        raw = read_regular(path)
    except IsADirectoryError as exc:
        raise ManifestError(f"{path}: is a folder, not a manifest file") from exc
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: no such manifest file") from exc
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text") from exc
    return text


# ---------------------------------------------------------------------------------------------
# Where manifests live

GENERIC = Manifest(
    name="generic",
    title="Any application with a requirements.txt and a venv",
    data={
        "schema": 1,
        "name": "generic",
        "title": "Any application with a requirements.txt and a venv",
        "venv": {"dirs": ["venv", ".venv"]},
        "requirements": {"files": ["requirements.txt"]},
    },
)


def search_path() -> list[Path]:
    """Folders searched for ``NAME.toml``, first wins: the user's own, then the shipped ones."""
    paths: list[Path] = []
    env = os.environ.get("WEBUI_REPAIR_MANIFESTS")
    if env:
        paths.extend(Path(p) for p in env.split(os.pathsep) if p)
    paths.append(Path(user_config_dir("webui-repair", appauthor=False)) / "manifests")
    here = Path(__file__).resolve().parent
    paths.append(here.parents[1] / "manifests")  # a source checkout or editable install
    data = sysconfig.get_path("data")
    if data:
        paths.append(Path(data) / "share" / "webui-repair" / "manifests")
    return paths


def available() -> dict[str, Path]:
    """Every manifest name found on the search path, with its file."""
    found: dict[str, Path] = {}
    for folder in search_path():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def load(name_or_file: str) -> Manifest:
    """A manifest by name (searched) or by file path."""
    looks_like_path = (
        name_or_file.endswith(".toml") or os.sep in name_or_file or "/" in name_or_file
    )
    if looks_like_path:
        return load_file(Path(name_or_file))
    found = available()
    if name_or_file in found:
        return load_file(found[name_or_file])
    if name_or_file == "generic":
        return GENERIC
    names = ", ".join(sorted(set(found) | {"generic"}))
    raise ManifestError(f"unknown manifest {name_or_file!r} (known: {names})")


def list_entries() -> list[dict[str, Any]]:
    """Each manifest found: name, title, file, where it comes from, and any problem with it."""
    user_dirs = search_path()[:-2]  # the env variable's and the user config folder's
    rows: list[dict[str, Any]] = []
    for name, path in sorted(available().items()):
        origin = "user" if any(_is_in(path, d) for d in user_dirs) else "built-in"
        row: dict[str, Any] = {
            "name": name,
            "title": None,
            "file": str(path),
            "origin": origin,
            "error": None,
        }
        try:
            row["title"] = load_file(path).title
        except ManifestError as exc:
            row["error"] = exc.message
        rows.append(row)
    if "generic" not in available():
        rows.append(
            {
                "name": "generic",
                "title": GENERIC.title,
                "file": None,
                "origin": "built-in",
                "error": None,
            }
        )
    return rows


def _is_in(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def load_all() -> list[Manifest]:
    manifests = [load_file(path) for path in available().values()]
    if not any(m.name == "generic" for m in manifests):
        manifests.append(GENERIC)
    return manifests


# ---------------------------------------------------------------------------------------------
# Detection from marker files


def _exists(root: Path, rel: str) -> bool:
    return (root / rel).exists()


def match_score(manifest: Manifest, root: Path) -> int | None:
    """How well ``root`` fits the manifest's markers; None when it does not fit at all."""
    all_of = manifest.get("detect.all", [])
    any_of = manifest.get("detect.any", [])
    none_of = manifest.get("detect.none", [])
    if not all_of and not any_of:
        return None
    if not all(_exists(root, m) for m in all_of):
        return None
    hits = sum(1 for m in any_of if _exists(root, m))
    if any_of and hits == 0:
        return None
    if any(_exists(root, m) for m in none_of):
        return None
    return 10 * len(all_of) + hits + int(manifest.get("detect.priority", 0)) * 100


def detect(root: Path) -> Manifest:
    """The manifest whose markers fit ``root`` best; ``generic`` when none fits."""
    best: tuple[int, Manifest] | None = None
    every = load_all()
    for manifest in every:
        if manifest.name == "generic":
            continue
        score = match_score(manifest, root)
        if score is not None and (best is None or score > best[0]):
            best = (score, manifest)
    return best[1] if best else next((m for m in every if m.name == "generic"), GENERIC)
