"""The manifest schema (``manifests/SCHEMA.md``): which keys a manifest may have, of which types,
and the checks of their values. ``validate`` returns every problem as ``key: problem``."""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1
BACKENDS = ("cuda", "rocm", "directml", "zluda", "openvino", "ipex", "cpu", "mps")

_TYPES: dict[str, tuple[type, ...]] = {
    "schema": (int,),
    "name": (str,),
    "title": (str,),
    "description": (str,),
    "repository.url": (str,),
    "repository.branch": (str,),
    "detect.all": (list,),
    "detect.any": (list,),
    "detect.none": (list,),
    "detect.priority": (int,),
    "venv.dirs": (list,),
    "venv.settings": (list,),
    "python.supported": (str,),
    "python.recommended": (str,),
    "requirements.files": (list,),
    "requirements.constraints": (list,),
    "user_data.paths": (list,),
    "restart.packages": (list,),
    "models.paths": (list,),
    "extensions.paths": (list,),
    "protect.packages": (list,),
    "protect.no_downgrade": (list,),
    "protect.major": (list,),
    "deep.modules": (list,),
    "launch.settings_files": (list,),
    "launch.recommended": (dict,),
    "launch.scripts": (list,),
    "launch.flags": (dict,),
    "torch": (dict,),
    "include": (list,),
    "conflicts": (list,),
}


# Keys a manifest may have at the top level and in each table; anything else is a typo.
_KNOWN_TABLES: dict[str, set[str]] = {
    "": {
        "schema",
        "name",
        "title",
        "description",
        "repository",
        "detect",
        "venv",
        "python",
        "requirements",
        "torch",
        "user_data",
        "restart",
        "deep",
        "launch",
        "models",
        "include",
        "conflicts",
        "extensions",
        "protect",
    },
    "repository": {"url", "branch"},
    "detect": {"all", "any", "none", "priority"},
    "venv": {"dirs", "settings"},
    "python": {"supported", "recommended"},
    "requirements": {"files", "constraints"},
    "user_data": {"paths"},
    "restart": {"packages"},
    "deep": {"modules"},
    "launch": {"settings_files", "recommended", "scripts", "flags"},
    "models": {"paths"},
    "extensions": {"paths"},
    "protect": {"packages", "no_downgrade", "major"},
}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        out[dotted] = value
    return out


def validate(data: dict[str, Any]) -> list[str]:
    """Problems with a manifest's data, each as ``key: problem``. Empty when valid."""
    problems: list[str] = []
    if "schema" not in data:
        problems.append("schema: missing (this tool reads schema 1)")
    elif data["schema"] != SCHEMA_VERSION:
        problems.append(f"schema: {data['schema']!r} is not supported (this tool reads schema 1)")
    for key in ("name", "title"):
        if key not in data:
            problems.append(f"{key}: missing")
    flat = _flatten(data)
    for key, types in _TYPES.items():
        if key == "conflicts" and isinstance(flat.get(key), list):
            continue  # a list of tables; checked by the conflict-rule validator
        if (
            key in flat
            and not isinstance(flat[key], types)
            or (key in flat and isinstance(flat[key], bool) and bool not in types)
        ):
            problems.append(f"{key}: expected {types[0].__name__}, got {type(flat[key]).__name__}")
        elif key in flat and isinstance(flat[key], list):
            if not all(isinstance(item, str) for item in flat[key]):
                problems.append(f"{key}: expected a list of strings")
    name = data.get("name")
    if isinstance(name, str) and not name.replace("-", "").isalnum():
        problems.append(f"name: {name!r} must be letters, digits and '-'")
    spec = flat.get("python.supported")
    if isinstance(spec, str) and spec:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet  # lazy: packaging is heavy

        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            problems.append(f"python.supported: {spec!r} is not a version specifier")
    for extra in EXTRA_VALIDATORS:
        problems.extend(extra(data))
    return problems


def _validate_keys(data: dict[str, Any]) -> list[str]:
    """Unknown keys: a typo in a manifest must not be silently ignored."""
    problems: list[str] = []
    for table, known in _KNOWN_TABLES.items():
        node = data if not table else data.get(table)
        if not isinstance(node, dict):
            continue
        for key in node:
            if key not in known:
                where = f"{table}.{key}" if table else key
                problems.append(f"{where}: unknown key (see manifests/SCHEMA.md)")
    return problems


def _validate_torch(data: dict[str, Any]) -> list[str]:
    torch = data.get("torch")
    if not isinstance(torch, dict):
        return []
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: packaging is heavy

    problems: list[str] = []
    for backend, spec in torch.items():
        where = f"torch.{backend}"
        if backend not in BACKENDS:
            problems.append(f"{where}: unknown backend (one of {', '.join(BACKENDS)})")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{where}: expected a table with packages and index_url")
            continue
        for key in spec:
            if key not in ("packages", "index_url", "extra_index_url", "note"):
                problems.append(f"{where}.{key}: unknown key")
        packages = spec.get("packages")
        if not isinstance(packages, list) or not packages:
            problems.append(f"{where}.packages: expected a non-empty list of requirements")
        else:
            for item in packages:
                if not isinstance(item, str):
                    problems.append(f"{where}.packages: expected a list of strings")
                    break
                try:
                    Requirement(item)
                except InvalidRequirement as exc:
                    why = str(exc).splitlines()[0].strip()
                    problems.append(f"{where}.packages: {item!r} is not a requirement ({why})")
        for key in ("index_url", "extra_index_url"):
            url = spec.get(key)
            if url is None:
                continue
            if not isinstance(url, str) or not url.startswith(("https://", "http://", "file:")):
                problems.append(f"{where}.{key}: expected an http(s) URL, got {url!r}")
    return problems


def _validate_launch(data: dict[str, Any]) -> list[str]:
    recommended = (
        data.get("launch", {}).get("recommended") if isinstance(data.get("launch"), dict) else None
    )
    if not isinstance(recommended, dict):
        return []
    problems = []
    for backend, args in recommended.items():
        if backend not in BACKENDS:
            problems.append(f"launch.recommended.{backend}: unknown backend")
        elif not isinstance(args, str):
            problems.append(f"launch.recommended.{backend}: expected a string of arguments")
    return problems


def _validate_paths(data: dict[str, Any]) -> list[str]:
    """Relative paths only, never out of the application folder."""
    problems = []
    for table, key in (
        ("detect", "all"),
        ("detect", "any"),
        ("detect", "none"),
        ("user_data", "paths"),
        ("models", "paths"),
        ("venv", "dirs"),
        ("requirements", "files"),
        ("requirements", "constraints"),
    ):
        node = data.get(table)
        values = node.get(key) if isinstance(node, dict) else None
        if not isinstance(values, list):
            continue
        for value in values:
            if not isinstance(value, str):
                continue
            escapes = value.startswith(("/", "\\")) or ":" in value or ".." in value.split("/")
            if not value or escapes:
                problems.append(f"{table}.{key}: {value!r} must be a relative path inside the app")
    return problems


def validate_conflicts(data: dict[str, Any]) -> list[str]:
    # lazy: the conflict rules' module is not needed for a manifest the cache has validated
    from repair.app.conflicts import validate_rules

    return validate_rules(data.get("conflicts"), "conflicts")


# Further validators append themselves here; each takes the data and returns ``key: problem``s.
EXTRA_VALIDATORS: list[Any] = [
    _validate_keys,
    _validate_torch,
    _validate_launch,
    _validate_paths,
    validate_conflicts,
]
