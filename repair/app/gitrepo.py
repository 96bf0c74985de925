"""Reading the state of a git checkout with the ``git`` program, through ``repair.proc``.

One ``git status --porcelain=v2 --branch`` answers most questions (HEAD, branch, upstream,
ahead/behind the last fetched upstream, changed tracked files) in a few milliseconds; importing
gitpython alone costs more than the whole ``repair check`` start-up, so the tool uses plain git
everywhere (the install's clone and checkout too), always through here and ``repair.proc``. Git
never walks up out of the folder it is asked about (``GIT_CEILING_DIRECTORIES``), never prompts,
and speaks English so that its messages can be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from repair.errors import ProcessError
from repair.proc import Result, clean_env, run, which

DUBIOUS_MARK = "dubious ownership"


def git_env(path: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = clean_env(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",  # a read never rewrites the index
            "LC_ALL": "C",
            "LANGUAGE": "C",
        }
    )
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    if path is not None:
        env["GIT_CEILING_DIRECTORIES"] = str(Path(path).absolute().parent)
    if extra:
        env.update(extra)
    return env


def git(
    path: Path,
    *args: str,
    timeout: float | None = 60.0,
    check: bool = False,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> Result:
    """Run ``git -C path args...``. A missing git program raises ``ProcessError``."""
    return run(
        ["git", "-C", str(path), *args],
        timeout=timeout,
        check=check,
        env=env if env is not None else git_env(path),
        input=input,
    )


def has_git() -> bool:
    return which("git") is not None


def first_error_line(text: str) -> str:
    for line in text.strip().splitlines():
        line = line.strip()
        if line.startswith(("fatal:", "error:")):
            return line
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


@dataclass(frozen=True)
class RepoState:
    """What git says about one checkout.

    ``status``: ``ok``; ``no-git`` (no ``.git`` there); ``dubious`` (git refuses: another user owns
    it); ``corrupt`` (git cannot read it); ``no-program`` (git is not installed).
    """

    path: Path
    status: str
    head: str | None = None
    branch: str | None = None  # None when detached
    upstream: str | None = None
    ahead: int | None = None
    behind: int | None = None
    dirty: tuple[str, ...] = ()
    error: str | None = None
    details: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def detached(self) -> bool:
        return self.ok and self.branch is None and self.head is not None


def parse_status_v2(out: str) -> tuple[dict[str, str], list[str]]:
    """``git status --porcelain=v2 --branch -z``: the ``# branch.*`` headers and changed paths."""
    headers: dict[str, str] = {}
    paths: list[str] = []
    records = out.split("\0")
    i = 0
    while i < len(records):
        rec = records[i]
        i += 1
        if not rec:
            continue
        if rec.startswith("# "):
            key, _, value = rec[2:].partition(" ")
            headers[key] = value
        elif rec[0] == "1":
            paths.append(rec.split(" ", 8)[8])
        elif rec[0] == "2":
            paths.append(rec.split(" ", 9)[9])
            i += 1  # the original path follows as its own record
        elif rec[0] == "u":
            paths.append(rec.split(" ", 10)[10])
    return headers, paths


def inspect(path: Path, *, timeout: float = 60.0) -> RepoState:
    """The state of the checkout at ``path`` (tracked changes only; untracked files are user
    data, not dirt)."""
    if not (path / ".git").exists():
        return RepoState(path, "no-git")
    try:
        res = git(
            path,
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=no",
            "--ignore-submodules=dirty",
            timeout=timeout,
        )
    except ProcessError as exc:
        status = "no-program" if "program not found" in exc.message else "corrupt"
        return RepoState(path, status, error=exc.message)
    if not res.ok:
        text = res.stderr or res.stdout
        if DUBIOUS_MARK in text:
            return RepoState(path, "dubious", error=first_error_line(text))
        error = first_error_line(text) or f"git exit {res.returncode}"
        return RepoState(path, "corrupt", error=error)
    headers, paths = parse_status_v2(res.stdout)
    oid = headers.get("branch.oid")
    head_name = headers.get("branch.head")
    ahead = behind = None
    ab = headers.get("branch.ab")
    if ab:
        a, _, b = ab.partition(" ")
        ahead, behind = int(a.lstrip("+")), int(b.lstrip("-"))
    return RepoState(
        path,
        "ok",
        head=None if oid in (None, "(initial)") else oid,
        branch=None if head_name in (None, "(detached)") else head_name,
        upstream=headers.get("branch.upstream"),
        ahead=ahead,
        behind=behind,
        dirty=tuple(paths),
    )


def fsck(path: Path, *, full: bool = True, timeout: float = 600.0) -> list[str]:
    """Problems ``git fsck`` reports (empty when the repository is sound). ``full=False`` only
    checks that every reachable object is present (fast: blobs are not read)."""
    args = ["fsck", "--no-dangling", "--no-progress"]
    if not full:
        args.append("--connectivity-only")
    try:
        res = git(path, *args, timeout=timeout)
    except ProcessError as exc:
        return [exc.message]
    lines = [ln.strip() for ln in (res.stderr + "\n" + res.stdout).splitlines() if ln.strip()]
    problems = [ln for ln in lines if not ln.startswith(("Checking", "notice:", "dangling"))]
    if res.returncode != 0 and not problems:
        problems = [f"git fsck failed with exit code {res.returncode}"]
    return problems


def remote_url(path: Path, remote: str = "origin") -> str | None:
    try:
        res = git(path, "config", "--get", f"remote.{remote}.url", timeout=15)
    except ProcessError:
        return None
    return res.stdout.strip() or None if res.ok else None


def rev_parse(path: Path, rev: str) -> str | None:
    try:
        res = git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", timeout=30)
    except ProcessError:
        return None
    return res.stdout.strip() or None if res.ok else None


def show_file(path: Path, rev: str, name: str) -> str | None:
    """The text of ``name`` at ``rev``; None when it does not exist there."""
    try:
        res = git(path, "show", f"{rev}:{name}", timeout=30)
    except ProcessError:
        return None
    return res.stdout if res.ok else None


def extension_checkouts(root: Path, folders: list[str]) -> list[Path]:
    """Each folder directly under the manifest's extension folders that is a git checkout."""
    found: list[Path] = []
    for rel in folders:
        base = root / rel
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and (Path(entry.path) / ".git").exists():
                found.append(Path(entry.path))
    return found


def tracked_files(path: Path, files: list[Path], *, timeout: float = 30.0) -> set[Path]:
    """Those of ``files`` that the checkout at ``path`` tracks (``git ls-files``): files the
    application ships in its own repository. Empty when there is no git or no checkout."""
    if not files or not (path / ".git").exists():
        return set()
    rels: dict[str, Path] = {}
    for f in files:
        try:
            rels[f.relative_to(path).as_posix()] = f
        except ValueError:
            continue
    if not rels:
        return set()
    try:
        res = git(path, "ls-files", "-z", "--", *rels, timeout=timeout)
    except ProcessError:
        return set()
    if res.returncode != 0:
        return set()
    return {rels[name] for name in res.stdout.split("\0") if name in rels}


@dataclass(frozen=True)
class GitFiles:
    """What ``.git`` itself says, read as files: no object is needed, so this holds when the
    object store is damaged and git cannot answer."""

    url: str | None = None  # remote "origin" (else the first remote) from .git/config
    head: str | None = None  # the commit HEAD names (through its branch ref, loose or packed)
    branch: str | None = None  # None when detached


def git_dir(path: Path) -> Path | None:
    """The git folder of the checkout at ``path`` (``.git``, or where a worktree's or submodule's
    ``.git`` file points); None when there is none."""
    dot = path / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        try:
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:") :].strip())
            return target if target.is_absolute() else (path / target)
    return None


def _remote_urls(config: str) -> dict[str, str]:
    urls: dict[str, str] = {}
    section = None
    for raw in config.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            head = line.strip("[]").strip()
            name, _, sub = head.partition(" ")
            section = sub.strip().strip('"') if name.lower() == "remote" else None
            continue
        key, sep, value = line.partition("=")
        if section is not None and sep and key.strip().lower() == "url":
            urls.setdefault(section, value.strip().strip('"'))
    return urls


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def read_git_files(path: Path) -> GitFiles:
    """The remote URL, HEAD's commit and branch of the checkout at ``path``, from ``.git/config``,
    ``.git/HEAD``, the loose refs and ``packed-refs``."""
    gdir = git_dir(path)
    if gdir is None:
        return GitFiles()

    def read(rel: str) -> str:
        try:
            return (gdir / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    urls = _remote_urls(read("config"))
    url = urls.get("origin") or next(iter(urls.values()), None)
    head_text = read("HEAD").strip()
    branch = None
    head = None
    if head_text.startswith("ref:"):
        ref = head_text[4:].strip()
        branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
        loose = read(ref).strip()
        if _is_sha(loose):
            head = loose
        else:
            for line in read("packed-refs").splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref and _is_sha(sha):
                    head = sha
                    break
    elif _is_sha(head_text):
        head = head_text
    return GitFiles(url=url, head=head, branch=branch)
