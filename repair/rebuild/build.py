"""Building a new venv: creating it (one virtualenv call that writes nothing outside the venv,
or ``uv venv``), then installing the set: torch first, then the kept set as exact pins with
``--no-deps``, then what moves (resolved, constrained by torch and by the kept pins). Before any
installer runs, the kept pins (and torch when its build is kept) whose files are intact in the
old venv's backup are linked from there (``repair.rebuild.reuseplan``): only what is left is
installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair import fsops, proc
from repair.backup.store import backups_root
from repair.env.dists import canonical
from repair.env.layout import VenvLayout
from repair.env.packages import find_uv, pip_install
from repair.env.pythons import probe_python
from repair.progress import human
from repair.rebuild.reuseplan import Reused, reuse_from_old, reuse_note
from repair.rebuild.torch import TorchChoice, torch_index

if TYPE_CHECKING:
    from repair.options import IndexOptions
    from repair.progress import Reporter

_REDIRECT: bool | None = None


def _virtualenv_has_redirect() -> bool:
    """Does this virtualenv know ``--no-venv-redirect`` (it writes a ``.venv`` file beside the
    venv otherwise, next to a pyproject.toml)? Read from its source: no subprocess."""
    global _REDIRECT
    if _REDIRECT is None:
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


def virtualenv_args(
    python: str | Path, dest: Path, *, prompt: str | None = None, setuptools: bool = True
) -> list[str]:
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


def create_venv(
    python: str | Path,
    dest: Path,
    *,
    prompt: str | None = None,
    installer: str = "pip",
    version: str | None = None,
    setuptools: bool = True,
) -> str:
    """A new venv at ``dest`` (which may exist, empty or holding only the partial marker).
    ``version``: the interpreter's, when known (spares a probe); ``setuptools``: seed it (pip
    is always seeded)."""
    if installer == "uv" and _uv_venv(Path(python), dest, version):
        return "uv venv"
    proc.run(
        virtualenv_args(python, dest, prompt=prompt, setuptools=setuptools),
        timeout=600,
        env=proc.clean_env(),
        check=True,
    )
    return "virtualenv"


def _uv_venv(python: Path, venv: Path, version: str | None) -> bool:
    """``uv venv`` (far faster than virtualenv), seeded offline with virtualenv's own pip and
    setuptools wheels. False (and nothing left behind but what was there) when it fails."""
    uv = find_uv()
    if uv is None:
        return False
    before = set(os.listdir(venv)) if venv.is_dir() else set()
    try:
        env = proc.clean_env(extra={"UV_NO_CONFIG": "1"})
        proc.run(
            [uv, "venv", "-q", "--allow-existing", "-p", str(python), str(venv)],
            timeout=300,
            env=env,
            check=True,
        )
        if version is None:
            info = probe_python(python)
            here = f"{sys.version_info[0]}.{sys.version_info[1]}"
            version = info.version if info is not None else here
        # lazy: virtualenv is heavy, and a failed import falls back to virtualenv below
        from virtualenv.seed.wheels import embed

        xy = ".".join(version.split(".")[:2])
        wheels = [
            w.path
            for w in (embed.get_embed_wheel(n, xy) for n in ("pip", "setuptools"))
            if w is not None
        ]
        if wheels:
            proc.run(
                [
                    uv,
                    "pip",
                    "install",
                    "-q",
                    "--no-index",
                    "--no-deps",
                    "--python",
                    str(VenvLayout.detect(venv).python),
                    *map(str, wheels),
                ],
                timeout=300,
                env=env,
                check=True,
            )
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
    allowed = {install.venv.name, backups_root(install).name}
    aside = f".{install.venv.name}.repair-backup-"  # a backup kept beside a venv on another disk
    new = sorted(
        n for n in set(os.listdir(install.dir)) - before - allowed if not n.startswith(aside)
    )
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


def _reuse(
    params: Mapping[str, Any],
    pins: list[str],
    old_venv: Path | None,
    new_venv: Path,
    reporter: Reporter,
    *,
    quiet: bool = False,
) -> Reused:
    """``reuse_from_old`` as a plan step's parameters ask (``reuse``, ``verify_hashes``,
    ``suspects``), said on the reporter (``quiet``: what is left was said before)."""
    if not params.get("reuse", True) or not pins:
        return Reused(left=list(pins))
    done = reuse_from_old(
        pins,
        old_venv,
        new_venv,
        expect=params.get("expect", {}),
        verify_hashes=bool(params.get("verify_hashes")),
        suspects=params.get("suspects", []),
    )
    if done.reused:
        reporter.info(
            f"{done.reused} distribution(s) reused from the old venv "
            f"({human_bytes(done.bytes_linked)} linked)"
        )
    for name, why in sorted(done.reasons.items()) if not quiet else ():
        reporter.info(f"{name}: installed, not reused ({why})")
    return done


def install_torch(
    python: Path,
    params: Mapping[str, Any],
    *,
    work: Path,
    keep: Mapping[str, Any] | None,
    index: IndexOptions,
    log: Path,
    reporter: Reporter,
    installer: str,
    old_venv: Path | None = None,
    on_start: Callable[[int], None] | None = None,
) -> str:
    """The torch step: its packages first, the kept set's versions as constraints for its
    dependencies (so that they come back at the versions they had). With the old venv: the
    kept set and, when the build is kept, torch itself are reused from it first; only what is
    left is installed (nothing at all when everything was intact)."""
    choice = TorchChoice(
        params.get("backend"),
        tuple(params["requirements"]),
        params.get("index_url"),
        params.get("extra_index_url"),
    )
    packages = list(choice.packages)
    done = Reused()
    if keep and old_venv is not None:
        kept = list(keep.get("pins", []))
        own = packages if params.get("keep") and not params.get("force_reinstall") else []
        done = _reuse(
            {**keep, "reuse": keep.get("reuse", True) and params.get("reuse", True)},
            [*kept, *own],
            old_venv,
            python.parent.parent,
            reporter,
        )
        packages = [p for p in packages if p in done.left or p not in own]
        if own and not packages:
            return f"0 installed, {reuse_note(done, 0)}"
    args = list(packages)
    if keep and keep.get("expect"):
        args += [
            "-c",
            str(
                write_lines(
                    work / "keep-constraints.txt", exact_pins(keep["expect"], keep.get("pins", []))
                )
            ),
        ]
    if params.get("force_reinstall"):
        args.append("--force-reinstall")
    stats = pip_install(
        python,
        args,
        log_path=log,
        reporter=reporter,
        installer=installer,
        index=torch_index(choice, index),
        label=f"installing torch for {choice.backend or 'this machine'}",
        on_start=on_start,
    )
    note = f"{len(stats.installed)} installed"
    return (
        f"{note}, {reuse_note(done, stats.downloaded)}"
        if done.reused
        else f"{note}, {human_bytes(stats.downloaded)} downloaded"
    )


def human_bytes(n: int) -> str:
    return human(n, "B")


def install_set(
    python: Path,
    params: Mapping[str, Any],
    *,
    work: Path,
    old_venv: Path | None,
    index: IndexOptions,
    log: Path,
    reporter: Reporter,
    installer: str,
    torch_pins: Iterable[str] = (),
    on_start: Callable[[int], None] | None = None,
) -> str:
    """The kept set as exact pins (``--no-deps``: what worked comes back as it was), then the
    requirement files, resolved, when something moves (or for a fresh set); torch and the kept
    versions constrain that resolution. Pins whose files are intact in the old venv are
    reused from it (``reuse_from_old``) rather than installed."""
    torch_pins = list(torch_pins)
    # After a torch step the kept set was reused there: only what it left is installed here.
    done = _reuse(
        params,
        list(params.get("pins", [])),
        old_venv,
        python.parent.parent,
        reporter,
        quiet=bool(torch_pins),
    )
    pins = done.left
    installed = 0
    downloaded = 0
    if pins:
        args = ["--no-deps", "-r", str(write_lines(work / "keep.txt", pins))]
        stats = pip_install(
            python,
            args,
            log_path=log,
            reporter=reporter,
            installer=installer,
            index=index,
            label=f"installing the {len(pins)} kept distributions",
            on_start=on_start,
        )
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
        stats = pip_install(
            python,
            args,
            log_path=log,
            reporter=reporter,
            installer=installer,
            index=index,
            label="installing the requirements",
            on_start=on_start,
        )
        installed += len(stats.installed)
        downloaded += stats.downloaded
    if not done.reused and (torch_pins or not params.get("reuse", True)):
        return f"{installed} installed, {human_bytes(downloaded)} downloaded"
    return f"{installed} installed, {reuse_note(done, downloaded)}"
