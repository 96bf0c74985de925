"""``repair check --before-install PATH_OR_REQUIREMENTS``: what would installing a custom node's
or extension's requirements change in the venv, and does it move a protected package?

pip's own resolver answers (``pip install --dry-run --report``, as ``--pre-update`` asks it),
with the venv's interpreter, the way ComfyUI-Manager installs a node (one ``pip install -r``).
Each move of a protected package (the manifest's ``[protect]`` table and the application's pins)
is an ``install-risky`` error. ``--write-constraints FILE`` writes the constraints that keep
every protected package where it is, and asks pip again with them: either the node installs
without the damage, or pip says it cannot (``install-unresolvable``: the node needs what the
install must not give it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair.app.nodes import keep_lines, move_breaks, protected
from repair.checks.preupdate import dry_run
from repair.env.dists import canonical
from repair.errors import UsageError
from repair.model import Finding, FindingType

if TYPE_CHECKING:
    from repair.context import Context


def parse_input(app_dir: Path, value: str) -> tuple[Path | None, list[str]]:
    """``--before-install``'s value: a node folder (its ``requirements.txt``), a requirements
    file, or requirement strings. Relative paths are tried from the current folder, then from
    the application folder. Returns (the file, or None and the requirement strings); bad input
    raises ``UsageError`` (exit 2) before any check runs."""
    candidates = [Path(value).expanduser()]
    if not candidates[0].is_absolute():
        candidates.append(app_dir / value)
    for path in candidates:
        if path.is_dir():
            req = path / "requirements.txt"
            if not req.is_file():
                raise UsageError(f"{path} has no requirements.txt: nothing would be installed")
            return req, []
        if path.is_file():
            return path, []
    looks_like_path = value.endswith((".txt", "/", "\\")) or "/" in value and "@" not in value
    if looks_like_path:
        raise UsageError(f"--before-install: no such file or folder: {value}")
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: packaging is heavy

    lines = value.split()
    if not lines:
        raise UsageError("--before-install: nothing given")
    for text in lines:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise UsageError(
                f"--before-install: {text!r} is neither a path nor a requirement "
                f"({str(exc).splitlines()[0]})"
            ) from exc
    return None, lines


def requirements_input(ctx: Context, value: str, work: Path) -> tuple[Path, str]:
    """The requirements file to predict for (strings are written to a file in ``work``), and
    how to name it."""
    path, lines = parse_input(ctx.install.dir, value)
    if path is not None:
        shown = f"{path.parent.name}/{path.name}" if path.name == "requirements.txt" else path.name
        return path, shown
    req = work / "requirements.txt"
    req.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return req, " ".join(lines)


def _moves(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    guard = protected(ctx)
    moves = []
    for item in items:
        key = canonical(item["name"])
        dist = ctx.installed.get(key)
        old = dist.version if dist is not None else None
        new = item["version"]
        if old == new:
            continue
        why = move_breaks(guard[key], old, new) if key in guard else None
        moves.append(
            {
                "name": key,
                "from": old,
                "to": new,
                "protected": why is not None,
                **({"reason": why} if why else {}),
            }
        )
    return moves


def before_install_findings(
    ctx: Context, risky_type: FindingType, unresolvable_type: FindingType
) -> Iterator[Finding]:
    """The findings of ``--before-install``: ``risky_type`` for each move of a protected
    package, ``unresolvable_type`` when pip cannot install the requirements (the ids are the
    ``before_install`` check's, in ``repair.checks.requirements``)."""
    value = str(ctx.options.before_install)
    out: dict[str, Any] = {
        "input": value,
        "file": None,
        "packages": [],
        "protected": [],
        "prediction": None,
        "constraints": None,
        "safe": False,
    }
    ctx.report_extra["before_install"] = out
    index = ctx.options.index.pip_args()
    with tempfile.TemporaryDirectory(prefix="repair-before-install-") as tmp:
        req, shown = requirements_input(ctx, value, Path(tmp))
        out["file"] = str(req)
        ctx.reporter.step(f"asking pip what installing {shown} would change")
        items, why, unresolvable = dry_run(ctx, [("-r", str(req))], cwd=req.parent, extra=index)
        out["prediction"] = why or "pip"
        if items is None:
            if unresolvable:
                yield unresolvable_type(
                    shown,
                    f"pip cannot install {shown} into this venv: {why}",
                    "the node's requirements cannot be met here; do not install it as it is",
                    detail=why,
                )
            return
        moves = _moves(ctx, items)
        out["packages"] = moves
        risky = [m for m in moves if m["protected"]]
        out["protected"] = [m["name"] for m in risky]
        target = ctx.options.write_constraints
        for m in risky:
            yield risky_type(
                m["name"],
                f"installing {shown} moves {m['name']} {m['from']} -> {m['to']}: {m['reason']}",
                "install it with the constraints that keep it: 'repair check --before-install "
                f"{value} --write-constraints constraints.txt', then 'pip install -r ... -c "
                "constraints.txt'",
                **{k: m[k] for k in ("from", "to")},
            )
        if target:
            lines = keep_lines(ctx)
            path = Path(str(target)).expanduser()
            try:
                path.write_text(
                    "# Keeps the protected packages of this install where they are "
                    "(repair check --before-install)\n" + "\n".join(lines) + "\n",
                    encoding="utf-8",
                )
            except OSError as exc:
                raise UsageError(
                    f"--write-constraints: cannot write {path}: {exc.strerror or exc}"
                ) from exc
            con: dict[str, Any] = {
                "file": str(path),
                "lines": lines,
                "resolves": None,
                "packages": [],
            }
            out["constraints"] = con
            ctx.reporter.step("asking pip again, with the constraints")
            again, why2, unresolvable2 = dry_run(
                ctx, [("-r", str(req)), ("-c", str(path))], cwd=req.parent, extra=index
            )
            if again is not None:
                con["resolves"] = True
                con["packages"] = _moves(ctx, again)
                con["protected"] = [m["name"] for m in con["packages"] if m["protected"]]
            else:
                con["resolves"] = False if unresolvable2 else None
                con["why"] = why2
                if unresolvable2:
                    yield unresolvable_type(
                        shown,
                        f"{shown} cannot be installed without moving a protected package: {why2}",
                        "do not install this node here, or find a version of it "
                        "whose requirements fit the installed torch/numpy",
                        detail=why2,
                    )
        out["safe"] = not risky
