"""``repair check --pre-update``: what would ``git pull`` change, and would it break anything?

Fetch upstream (with a timeout; offline says so and goes on with the last fetched state), count
the commits behind, diff every requirements and constraints file of the manifest between HEAD
and upstream, and ask pip's own resolver (``pip install --dry-run --report``, pip >= 22.2) in
the venv which installed packages the new requirements would move. The result is the contract's
``update`` object in the JSON report; what makes the update refuse or break is an error finding,
so that ``repair check --pre-update && git pull`` is a safe update.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from repair.app.gitrepo import first_error_line, git, inspect, rev_parse, show_file
from repair.app.reqfiles import parse_file
from repair.checks.registry import check, finding_type
from repair.checks.repo import REPO_BEHIND, REPO_DETACHED, REPO_DIRTY, REPO_DIVERGED
from repair.env.dists import canonical
from repair.env.torchbuild import TORCH_STACK
from repair.errors import ProcessError
from repair.model import Finding, FindingId, Fix, Severity
from repair.proc import clean_env, run

if TYPE_CHECKING:
    from repair.context import Context

FETCH_TIMEOUT = 60.0
RESOLVE_TIMEOUT = 600.0
_OFFLINE_MARKS = (
    "could not resolve host",
    "unable to access",
    "could not read from remote",
    "connection timed out",
    "connection refused",
    "network is unreachable",
    "timed out after",
    "failed to connect",
    "temporary failure in name resolution",
)
_INCLUDE_RE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)?(\S+)", re.M)

UPDATE_RISKY = finding_type(
    FindingId.UPDATE_RISKY,
    "An update would move a package that often breaks the application",
    Severity.WARNING,
    Fix.NONE,
    restart_required=True,
)
UPDATE_UNRESOLVABLE = finding_type(
    FindingId.UPDATE_UNRESOLVABLE,
    "The updated requirements cannot be installed together",
    Severity.ERROR,
    Fix.MANUAL,
)


def _fetch(root: Path, remote: str, timeout: float) -> tuple[bool, str | None, bool]:
    """(fetched, error, looks offline)."""
    try:
        res = git(root, "fetch", "--quiet", "--no-tags", remote, timeout=timeout)
    except ProcessError as exc:
        return False, exc.message, True
    if res.ok:
        return True, None, False
    text = res.stderr or res.stdout
    error = first_error_line(text) or f"git fetch exit {res.returncode}"
    return False, error, any(mark in text.lower() for mark in _OFFLINE_MARKS)


def _extract(root: Path, rev: str, names: list[str], dest: Path) -> list[str]:
    """Write ``names`` (and the files they include) as they are at ``rev`` into ``dest``;
    return the names that exist there."""
    present: list[str] = []
    queue = list(names)
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        text = show_file(root, rev, name)
        if text is None:
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        present.append(name)
        base = Path(name).parent
        for include in _INCLUDE_RE.findall(text):
            if "://" not in include:
                queue.append((base / include).as_posix())
    return present


def _spec_map(folder: Path, name: str, constraint: bool) -> dict[str, str]:
    path = folder / name
    if not path.is_file():
        return {}
    out: dict[str, list[str]] = {}
    for line in parse_file(path, constraint=constraint).lines:
        if line.error or not line.name:
            continue
        if line.requirement is not None and not line.url:
            req = line.requirement
            text = str(req.specifier) or "any"
            if req.extras:
                text = f"[{','.join(sorted(req.extras))}]{text}"
            if req.marker is not None:
                text += f"; {req.marker}"
        else:
            text = line.url or line.raw
        out.setdefault(line.name, []).append(text)
    return {k: " | ".join(v) for k, v in out.items()}


def requirement_changes(
    root: Path, head: str, upstream: str, files: list[str], constraints: list[str], work: Path
) -> list[dict[str, Any]]:
    """Each requirement the update adds, removes or changes: ``{"name", "from", "to", "file"}``."""
    old_dir, new_dir = work / "head", work / "upstream"
    _extract(root, head, files + constraints, old_dir)
    _extract(root, upstream, files + constraints, new_dir)
    changes: list[dict[str, Any]] = []
    for name in files + constraints:
        constraint = name in constraints and name not in files
        old = _spec_map(old_dir, name, constraint)
        new = _spec_map(new_dir, name, constraint)
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append(
                    {"name": key, "from": old.get(key), "to": new.get(key), "file": name}
                )
    return changes


def _risk(name: str, old: str | None, new: str, restart: set[str]) -> str | None:
    try:
        ov = Version(old) if old else None
        nv = Version(new)
    except InvalidVersion:
        ov = nv = None
    if name == "numpy" and ov is not None and nv is not None and ov.major != nv.major:
        return (
            f"numpy {ov.major} -> {nv.major}: compiled modules built for numpy {ov.major} "
            "fail to import"
        )
    if name in TORCH_STACK and old is not None:
        if ov is not None and nv is not None and ov.local != nv.local:
            return f"the {name} build changes ({ov.local or 'default'} -> {nv.local or 'default'})"
        return f"{name} changes version: the GPU build must match the machine"
    if name in restart:
        return f"{name} is on the application's restart list"
    return None


def dry_run(
    ctx: Context,
    inputs: list[tuple[str, str]],
    cwd: Path | None = None,
    extra: list[str] | None = None,
) -> tuple[list[dict[str, Any]] | None, str | None, bool]:
    """pip's resolver in the venv (``pip install --dry-run --report``) on ``inputs`` (pairs of
    ``-r``/``-c`` and a file): (what it would install, why there is no answer, unresolvable)."""
    if not ctx.venv_exists or ctx.interp is None:
        return None, "the venv's python does not run here", False
    if "pip" not in ctx.installed:
        return None, "the venv has no pip (made by uv?): no prediction", False
    args: list[str] = [
        str(ctx.layout.python),
        *(["-s"] if ctx.layout.embedded else []),
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--report",
        "-",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
    ]
    for flag, path in inputs:
        args += [flag, path]
    args += list(extra or [])
    try:
        res = run(
            args,
            timeout=RESOLVE_TIMEOUT,
            env=clean_env(venv=ctx.venv),
            cwd=str(cwd) if cwd else None,
        )
    except ProcessError as exc:
        return None, exc.message, False
    if not res.ok:
        text = res.stderr + res.stdout
        if "no such option: --report" in text or "no such option: --dry-run" in text:
            return None, "the venv's pip is older than 22.2 (no --dry-run --report)", False
        unresolvable = any(
            m in text
            for m in (
                "ResolutionImpossible",
                "conflicting dependencies",
                "No matching distribution found",
            )
        )
        return None, pip_error(text) or f"pip exit {res.returncode}", unresolvable
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        return None, "pip's report was not JSON", False
    out: list[dict[str, Any]] = []
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        out.append({"name": str(meta.get("name", "")), "version": str(meta.get("version", ""))})
    return out, None, False


def pip_error(text: str) -> str:
    """What pip's failure says, in one line: the resolver's "conflict is caused by" lines, else
    its first ``ERROR:`` line (warnings about the user's configuration come before them)."""
    lines = [line.strip() for line in text.splitlines()]
    if "The conflict is caused by:" in lines:
        start = lines.index("The conflict is caused by:") + 1
        causes = []
        for line in lines[start : start + 6]:
            if not line:
                break
            causes.append(line)
        if causes:
            return "conflict: " + "; ".join(causes)
    for line in lines:
        if line.startswith("ERROR:"):
            return line
    return first_error_line(text)


def predict(
    ctx: Context,
    upstream_dir: Path,
    files: list[str],
    constraints: list[str],
) -> tuple[list[dict[str, Any]], str | None, bool]:
    """Ask pip's resolver in the venv what ``pip install -r`` of the upstream requirements would
    install. Returns (packages that move, why there is no prediction, unresolvable)."""
    inputs = [("-r", n) for n in files] + [("-c", n) for n in constraints]
    present = [(flag, str(upstream_dir / n)) for flag, n in inputs if (upstream_dir / n).is_file()]
    if not any(flag == "-r" for flag, _ in present):
        return [], "upstream has none of the requirements files", False
    items, why, unresolvable = dry_run(ctx, present, cwd=upstream_dir)
    if items is None:
        return [], why, unresolvable
    restart = {canonical(n) for n in ctx.install.manifest.restart_packages}
    moves: list[dict[str, Any]] = []
    for item in items:
        key = canonical(item["name"])
        new = item["version"]
        dist = ctx.installed.get(key)
        old = dist.version if dist is not None else None
        if old == new:
            continue
        reason = _risk(key, old, new, restart)
        moves.append(
            {
                "name": key,
                "from": old,
                "to": new,
                "risky": reason is not None,
                **({"reason": reason} if reason else {}),
            }
        )
    return moves, None, False


def ensure_snapshot(ctx: Context) -> dict[str, Any]:
    """A snapshot of the venv newer than its last change, made now when there is none."""
    # lazy: start-up time of repair check (only --pre-update keeps a snapshot)
    from repair.backup.store import create_backup, list_backups

    if not ctx.venv_exists:
        return {"status": "skipped", "reason": "no venv"}
    changed = max((p.stat().st_mtime for p in (ctx.venv, ctx.site) if p.exists()), default=0.0)
    for info in sorted(list_backups(ctx.install), key=_created, reverse=True)[:1]:
        if _created(info) >= changed:
            return {
                "status": "fresh",
                "id": str(getattr(info, "id", "")),
                "path": str(getattr(info, "path", "")),
            }
    info = create_backup(ctx, snapshot_only=True, reporter=ctx.reporter, reason="pre-update")
    return {
        "status": "created",
        "id": str(getattr(info, "id", "")),
        "path": str(getattr(info, "path", "")),
    }


def _created(info: Any) -> float:
    value = getattr(info, "created", None)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


@check(
    REPO_BEHIND,
    REPO_DIVERGED,
    REPO_DIRTY,
    REPO_DETACHED,
    UPDATE_RISKY,
    UPDATE_UNRESOLVABLE,
    option="pre_update",
)
def pre_update(ctx: Context) -> Iterator[Finding]:
    """With ``--pre-update``: fetch upstream (offline: says so and goes on), count the commits
    behind, diff the requirements and constraints files between HEAD and upstream, and predict
    with pip's own resolver which installed packages would move. Anything that makes
    ``git pull`` refuse or the new requirements fail to install is an error."""
    yield from pre_update_findings(ctx)


def pre_update_findings(ctx: Context) -> Iterator[Finding]:
    root = ctx.install.dir
    manifest = ctx.install.manifest
    update: dict[str, Any] = {
        "fetched": False,
        "offline": False,
        "fetch_error": None,
        "head": None,
        "branch": None,
        "upstream": None,
        "upstream_commit": None,
        "behind": None,
        "ahead": None,
        "files_changed": [],
        "requirements": [],
        "packages": [],
        "risky": [],
        "prediction": None,
        "snapshot": None,
        "refused": [],
        "safe": False,
        "compared": False,
        "not_compared": None,
    }
    ctx.report_extra["update"] = update
    state = inspect(root)
    if not state.ok:
        update["refused"].append(
            "the repository cannot be read" if state.status != "no-git" else "not a git checkout"
        )
        return
    update["head"], update["branch"] = state.head, state.branch
    update["snapshot"] = ensure_snapshot(ctx)
    ctx.reporter.step("fetching upstream")
    remote = "origin"
    if state.branch:
        res = git(root, "config", "--get", f"branch.{state.branch}.remote", timeout=15)
        remote = res.stdout.strip() or "origin"
    fetched, error, offline = _fetch(
        root, remote, float(ctx.options.fetch_timeout or FETCH_TIMEOUT)
    )
    update.update(fetched=fetched, fetch_error=error, offline=offline)
    if not fetched:
        ctx.reporter.warn(
            f"could not fetch from {remote} ({error}); using the last fetched upstream state"
        )
    upstream = state.upstream
    if upstream is None and rev_parse(root, f"{remote}/{manifest.branch}"):
        upstream = f"{remote}/{manifest.branch}"
    update["upstream"] = upstream
    upstream_commit = rev_parse(root, upstream) if upstream else None
    update["upstream_commit"] = upstream_commit
    refused: list[str] = update["refused"]
    subject = root.name
    if state.detached:
        refused.append("no branch checked out (detached HEAD)")
        yield REPO_DETACHED(
            subject,
            f"the checkout is at {state.head[:10] if state.head else '?'} with no branch: "
            "'git pull' refuses to update it",
            f"run 'git checkout {manifest.branch}' to follow the branch again, or update by hand",
            severity=Severity.ERROR,
            commit=state.head,
        )
    if upstream_commit is None or state.head is None:
        if state.dirty:
            yield REPO_DIRTY(
                subject,
                f"{len(state.dirty)} tracked file(s) changed",
                "commit or stash them ('git stash')",
                files=list(state.dirty[:100]),
            )
        # Nothing to compare with: no remote, never fetched, or no upstream branch. That is not
        # "safe to update": the update's effect is unknown.
        update["not_compared"] = (
            f"no upstream state of {remote} to compare with ({error})"
            if not fetched and error
            else f"no upstream branch found ({remote}/{manifest.branch})"
        )
        update["safe"] = False
        return
    update["compared"] = True
    counts = git(root, "rev-list", "--left-right", "--count", f"HEAD...{upstream_commit}")
    ahead, _, behind = counts.stdout.strip().partition("\t")
    update["ahead"], update["behind"] = int(ahead or 0), int(behind or 0)
    diff = git(root, "diff", "--name-only", "-z", "HEAD", upstream_commit)
    changed = [p for p in diff.stdout.split("\0") if p] if update["behind"] else []
    update["files_changed"] = changed
    touched = sorted(set(state.dirty) & set(changed))
    if touched:
        refused.append("local changes to files the update changes: " + ", ".join(touched[:5]))
        yield REPO_DIRTY(
            subject,
            f"'git pull' would refuse: local changes to {len(touched)} file(s) that the "
            f"update changes: {', '.join(touched[:5])}",
            "keep the changes with 'git stash' (then 'git stash pop' after the update) or commit "
            "them",
            severity=Severity.ERROR,
            files=touched[:100],
        )
    elif state.dirty:
        yield REPO_DIRTY(
            subject,
            f"{len(state.dirty)} tracked file(s) have local changes; the update does "
            "not touch them",
            "nothing blocks the update; 'git stash' keeps them safe",
            files=list(state.dirty[:100]),
        )
    if update["ahead"] and update["behind"]:
        refused.append("local commits: the branch has diverged from upstream")
        yield REPO_DIVERGED(
            subject,
            f"{update['ahead']} local commit(s) and {update['behind']} upstream: "
            "'git pull --ff-only' refuses",
            "rebase or merge your commits onto the upstream branch, or reset to it",
            severity=Severity.ERROR,
            ahead=update["ahead"],
            behind=update["behind"],
            upstream=upstream,
        )
    elif update["behind"]:
        yield REPO_BEHIND(
            subject,
            f"{update['behind']} commit(s) behind {upstream}"
            + ("" if fetched else " (as of the last fetch: offline)"),
            "'git pull --ff-only' updates it",
            behind=update["behind"],
            upstream=upstream,
        )
    if update["behind"]:
        files, constraints = manifest.requirement_files, manifest.constraint_files
        with tempfile.TemporaryDirectory(prefix="repair-update-") as tmp:
            work = Path(tmp)
            update["requirements"] = requirement_changes(
                root, "HEAD", upstream_commit, files, constraints, work
            )
            if update["requirements"]:
                ctx.reporter.step("asking pip what the new requirements would install")
                moves, why, unresolvable = predict(ctx, work / "upstream", files, constraints)
                update["packages"] = moves
                update["prediction"] = why or "pip"
                if unresolvable and not offline:
                    refused.append("the new requirements cannot be installed")
                    yield UPDATE_UNRESOLVABLE(
                        subject,
                        f"pip cannot install the updated requirements: {why}",
                        "wait for upstream to fix its requirements, or check your package index "
                        "settings",
                        detail=why,
                    )
                for move in moves:
                    if move["risky"]:
                        update["risky"].append(move["name"])
                        yield UPDATE_RISKY(
                            move["name"],
                            f"the update moves {move['name']} "
                            f"{move['from'] or '(not installed)'} -> {move['to']}: "
                            f"{move['reason']}",
                            "make sure a snapshot exists ('repair backup create'); restart the "
                            "web UI after the update",
                            **{k: move[k] for k in ("from", "to")},
                        )
            else:
                update["prediction"] = "requirements unchanged"
    update["safe"] = not refused
