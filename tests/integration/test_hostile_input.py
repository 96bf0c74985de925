"""Hostile input never hangs or crashes: over a hundred bad inputs, each run through the command
line, counting tracebacks, internal errors, hangs and wrong exit codes (all must be zero).

Most run in-process (``CliRunner``: a subprocess adds nothing to what the tool does with a file);
a handful run as real processes (``python -m repair``) to prove the same of the console entry.
The classes: FIFOs, devices, folders, dangling links, binary, NUL, invalid UTF-8 and huge lines
where metadata, ``pyvenv.cfg``, RECORD entries, requirements, manifests, ``webui-user.sh``, logs,
``backup.json``, archives, journals and snapshots are read; super-linear inputs for every line
parser (40,000 spaces); nesting thousands deep for TOML and JSON."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from repair.cli import cli
from tests.kit import make_windows_tree

SLOW_SECONDS = 20.0
SPACES = " " * 40_000
KINDS = (
    "fifo",
    "folder",
    "device",
    "dangling",
    "binary",
    "nul",
    "latin",
    "huge",
    "spaces",
    "empty",
)


def _plant(path: Path, kind: str) -> None:
    """Replace ``path`` with a hostile thing of ``kind``."""
    if os.path.lexists(path):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "dangling":
        path.symlink_to(path.parent / "does-not-exist")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "nul":
        path.write_bytes(b"Name: x\x00\x00\nVersion: 1\n")
    elif kind == "latin":
        path.write_bytes(b"Name: caf\xe9\nVersion: 1\xff\xfe\n")
    elif kind == "huge":
        path.write_bytes(b"x" * 2_000_000)
    elif kind == "spaces":
        path.write_text(SPACES + "#" + SPACES + "\n" + "a" * 40_000 + "\n")
    else:
        path.write_bytes(b"")


@dataclass
class Case:
    name: str
    setup: Callable[[Path], list[str]]  # mutates the app, returns the command line
    codes: tuple[int, ...]
    real: bool = False  # also run as a real process


@dataclass
class Tally:
    runs: int = 0
    tracebacks: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    wrong_exit: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "runs": self.runs,
            "tracebacks": len(self.tracebacks),
            "internal_errors": len(self.internal),
            "hangs": len(self.hangs),
            "wrong_exit_codes": len(self.wrong_exit),
        }


def _site(app: Path) -> Path:
    return app / "venv" / "Lib" / "site-packages"


def _einops(app: Path) -> Path:
    return next(_site(app).glob("einops-*.dist-info"))


def _venv_file(rel: str, kind: str, *extra: str) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        target = app / "venv" / rel if rel == "pyvenv.cfg" else _einops(app) / rel
        _plant(target, kind)
        return ["check", "--json", "--dir", str(app), *extra]

    return setup


def _write(path: Path, content: bytes | str | None, kind: str | None) -> None:
    """A hostile thing of ``kind`` at ``path``, else ``content`` written there (None: nothing)."""
    if kind is not None:
        _plant(path, kind)
    elif isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_bytes(content)


def _record_entry(kind: str) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        _plant(_site(app) / "einops" / "hostile.py", kind)
        record = _einops(app) / "RECORD"
        record.write_text(record.read_text() + "einops/hostile.py,sha256=AAAA,1\n")
        return ["check", "--json", "--verify-files", "--dir", str(app)]

    return setup


def _requirements(
    content: bytes | str | None, kind: str | None = None
) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        path = app / "requirements.txt"
        _write(path, content, kind)
        return ["check", "--json", "--dir", str(app)]

    return setup


def _manifest(content: bytes | str | None, kind: str | None = None) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        path = app / "hostile.toml"
        _write(path, content, kind)
        return ["check", "--json", "--dir", str(app), "--manifest", str(path)]

    return setup


def _webui_user(content: str | None, kind: str | None = None) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        path = app / "webui-user.sh"
        if kind is not None:
            _plant(path, kind)
        elif content is not None:
            path.write_text(content)
        return ["check", "--json", "--dir", str(app), "--manifest", "a1111"]

    return setup


def _log(kind: str) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        _plant(app / "crash.log", kind)
        return ["diagnose", "--json", str(app / "crash.log")]

    return setup


def _backup_folder(app: Path) -> Path:
    folder = app / ".repair-backups" / "20250101-000000-beef"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _backup_json(
    content: str | bytes | None, kind: str | None, *command: str
) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        path = _backup_folder(app) / "backup.json"
        _write(path, content, kind)
        return ["backup", *command, "--dir", str(app)]

    return setup


def _archive(kind: str) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        folder = _backup_folder(app)
        (folder / "backup.json").write_text(
            json.dumps(
                {
                    "id": folder.name,
                    "created": "2025",
                    "has_venv": True,
                    "kind": "archive",
                    "venv_path": str(folder / "venv.tar.gz"),
                }
            )
        )
        path = folder / "venv.tar.gz"
        if kind == "not-gzip":
            path.write_bytes(b"PK\x03\x04 not a tar")
        elif kind == "truncated":
            with tarfile.open(path, "w:gz") as tar:
                tar.add(app / "venv" / "pyvenv.cfg", arcname="venv/pyvenv.cfg")
            path.write_bytes(path.read_bytes()[:40])
        elif kind == "gzip-of-garbage":
            path.write_bytes(gzip.compress(os.urandom(4096)))
        elif kind == "no-venv-member":
            with tarfile.open(path, "w:gz") as tar:
                tar.add(app / "requirements.txt", arcname="other/requirements.txt")
        else:
            _plant(path, kind)
        return ["backup", "restore", "--yes", folder.name, "--dir", str(app)]

    return setup


def _journal(content: str | bytes | None, kind: str | None = None) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        path = _backup_folder(app) / "journal.json"
        _write(path, content, kind)
        return ["--yes", "--dir", str(app)]

    return setup


def _snapshot(content: str | bytes | None, kind: str | None = None) -> Callable[[Path], list[str]]:
    def setup(app: Path) -> list[str]:
        path = app / "snap.json"
        _write(path, content, kind)
        return [
            "install",
            "generic",
            "--yes",
            "--dir",
            str(app.parent / "new"),
            "--from-snapshot",
            str(path),
        ]

    return setup


DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_TOML = "a = " + "[" * 20_000 + "]" * 20_000 + "\n"
DEEP_TABLE = "a = " + "{b = " * 5_000 + "1" + "}" * 5_000 + "\n"
CHECK = (0, 1)
USAGE = (2,)


def cases() -> list[Case]:
    out: list[Case] = []
    for rel in (
        "METADATA",
        "RECORD",
        "INSTALLER",
        "direct_url.json",
        "top_level.txt",
        "pyvenv.cfg",
    ):
        for kind in KINDS:
            out.append(
                Case(
                    f"{rel}:{kind}",
                    _venv_file(rel, kind),
                    CHECK,
                    real=(rel, kind) in (("METADATA", "fifo"), ("pyvenv.cfg", "device")),
                )
            )
    for kind in ("fifo", "device", "folder", "dangling", "binary"):
        out.append(Case(f"record-entry:{kind}", _record_entry(kind), CHECK, real=kind == "fifo"))
    requirement_lines = {
        "spaces-comment": SPACES + "#x\n",
        "spaces-only": SPACES + "\n",
        "long-name": "a" * 40_000 + "==1\n",
        "long-url": "x @ https://" + "a" * 40_000 + "\n",
        "brackets": "x" + "[" * 40_000 + "\n",
        "markers": "x; " + "(" * 5_000 + "python_version" + ")" * 5_000 + "\n",
        "self-include": "-r requirements.txt\n",
        "dev-include": "-r /dev/zero\n",
        "credentials": "x @ https://user:hunter2@host/x.whl\n",
        "continuations": "\\\n" * 40_000,
        "unicode": "numpy\u2028==1\n\ufeffx\n",
        "dashes": "-" * 40_000 + "\n",
        "equals": "x" + "=" * 40_000 + "\n",
    }
    for name, text in requirement_lines.items():
        out.append(
            Case(f"requirements:{name}", _requirements(text), CHECK, real=name == "spaces-comment")
        )
    for kind in ("fifo", "device", "folder", "binary", "nul", "latin", "huge"):
        out.append(Case(f"requirements:{kind}", _requirements(None, kind), CHECK))
    manifests = {
        "deep-array": DEEP_TOML,
        "deep-table": DEEP_TABLE,
        "spaces": "name = 'x'" + SPACES + "#\n",
        "not-toml": "= = =\n",
        "wrong-types": "name = 1\nvenv = [1]\n",
    }
    for name, text in manifests.items():
        out.append(Case(f"manifest:{name}", _manifest(text), USAGE, real=name == "deep-array"))
    for kind in ("fifo", "device", "folder", "binary", "nul", "dangling"):
        out.append(Case(f"manifest:{kind}", _manifest(None, kind), USAGE))
    webui = {
        "spaces": "export COMMANDLINE_ARGS=x" + SPACES + "x\n",
        "spaces-comment": "export VENV_DIR=venv" + SPACES + "#\n",
        "venv-dev": "export VENV_DIR=/dev/null\n",
        "venv-root": "export VENV_DIR=/\n",
        "long": "export " + "A" * 40_000 + "=1\n",
    }
    for name, text in webui.items():
        out.append(Case(f"webui-user:{name}", _webui_user(text), (0, 1, 2)))
    for kind in ("fifo", "device", "binary"):
        out.append(Case(f"webui-user:{kind}", _webui_user(None, kind), CHECK))
    # (A FIFO named as the log is read as the pipe it is: diagnose <(python launch.py).)
    for kind in ("device", "binary", "spaces", "huge", "folder", "nul", "latin"):
        out.append(Case(f"log:{kind}", _log(kind), (0, 1, 2)))
    metas = {
        "garbage": "{not json",
        "list": "[1, 2]",
        "deep": DEEP_JSON,
        "id-mismatch": json.dumps({"id": "other", "has_venv": True}),
        "outside": json.dumps(
            {"id": "20250101-000000-beef", "has_venv": True, "kind": "copy", "venv_path": "/"}
        ),
        "types": json.dumps(
            {"id": "20250101-000000-beef", "created": [], "has_venv": "yes", "venv_path": 5}
        ),
    }
    for name, text in metas.items():
        out.append(
            Case(f"backup.json:{name}:list", _backup_json(text, None, "list", "--json"), (0,))
        )
        out.append(
            Case(
                f"backup.json:{name}:prune",
                _backup_json(text, None, "prune", "--yes", "--keep", "0"),
                (0,),
            )
        )
        out.append(
            Case(
                f"backup.json:{name}:restore",
                _backup_json(text, None, "restore", "--yes", "20250101-000000-beef"),
                USAGE,
            )
        )
    for kind in ("fifo", "device", "folder"):
        out.append(Case(f"backup.json:{kind}", _backup_json(None, kind, "list"), (0,)))
    for kind in (
        "not-gzip",
        "truncated",
        "gzip-of-garbage",
        "no-venv-member",
        "fifo",
        "empty",
        "folder",
    ):
        out.append(Case(f"archive:{kind}", _archive(kind), (1, 2), real=kind == "truncated"))
    journals = {
        "garbage": "{",
        "list": "[]",
        "deep": DEEP_JSON,
        "state-int": '{"state": 5}',
        "outside": json.dumps(
            {"state": "running", "venv_backup": "/usr", "old_fp": {"dev": 0, "ino": 0}}
        ),
        "types": json.dumps({"state": "running", "venv_backup": 7, "new_fp": "x"}),
    }
    for name, text in journals.items():
        out.append(Case(f"journal:{name}", _journal(text), USAGE, real=name == "outside"))
    for kind in ("fifo", "device", "binary", "huge"):
        out.append(Case(f"journal:{kind}", _journal(None, kind), USAGE))
    snapshots = {
        "garbage": "{",
        "deep": DEEP_JSON,
        "list": "[]",
        "no-schema": json.dumps({"distributions": []}),
        "bad-dists": json.dumps({"schema": "repair.snapshot/1", "distributions": 5}),
    }
    for name, text in snapshots.items():
        out.append(Case(f"snapshot:{name}", _snapshot(text), USAGE))
    for kind in ("fifo", "device", "folder"):
        out.append(Case(f"snapshot:{kind}", _snapshot(None, kind), USAGE))
    return out


class _Hang(BaseException):
    pass


def _alarm(_sig: int, _frame: object) -> None:
    raise _Hang()


def _in_process(args: list[str], tally: Tally, case: Case) -> None:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(SLOW_SECONDS))
    started = time.monotonic()
    try:
        result = CliRunner().invoke(cli, args)
    except _Hang:
        tally.hangs.append(case.name)
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if isinstance(result.exception, _Hang) or time.monotonic() - started > SLOW_SECONDS:
        tally.hangs.append(case.name)
        return
    _judge(
        case,
        result.exit_code,
        result.stderr + result.stdout,
        result.exception is not None and not isinstance(result.exception, SystemExit),
        tally,
    )


def _judge(case: Case, code: int, output: str, raised: bool, tally: Tally) -> None:
    if raised or "Traceback (most recent call last)" in output:
        tally.tracebacks.append(f"{case.name}: {output[-300:]}")
    if "internal error" in output:
        tally.internal.append(f"{case.name}: {output[-300:]}")
    if code not in case.codes:
        tally.wrong_exit.append(f"{case.name}: exit {code}: {output[-300:]}")
    if "hunter2" in output:
        tally.internal.append(f"{case.name}: a password was shown")


def _real_process(args: list[str], tally: Tally, case: Case) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "repair", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=SLOW_SECONDS * 3,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        tally.hangs.append(f"{case.name} (process)")
        return
    _judge(case, proc.returncode, proc.stderr + proc.stdout, False, tally)


@pytest.mark.skipif(os.name == "nt", reason="FIFOs, devices and SIGALRM")
def test_hostile_inputs_never_hang_or_crash(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import APP_REQUIREMENTS

    # A venv read from its files alone (a Windows layout: its python never runs here), so that
    # each case costs what the tool does with the hostile file, not an interpreter start.
    base = tmp_path / "base"
    base.mkdir()
    (base / "requirements.txt").write_text("\n".join(APP_REQUIREMENTS) + "\n")
    wheels = [
        next(wheelhouse.glob(f"{name}-{version}-*.whl"))
        for name, version in (
            ("numpy", "1.26.4"),
            ("accelerate", "1.2.0"),
            ("transformers", "4.40.0"),
            ("safetensors", "0.4.3"),
            ("einops", "0.8.0"),
            ("packaging", "24.0"),
        )
    ]
    make_windows_tree(base / "venv", wheels)
    all_cases = cases()
    assert len(all_cases) >= 100
    tally = Tally()
    import resource

    # An input that makes the tool read without end must fail here, not fill the machine.
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = 8 << 30
    resource.setrlimit(
        resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard)
    )
    try:
        _run_all(all_cases, base, tmp_path, tally)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    with capsys.disabled():
        print(f"\nhostile inputs: {len(all_cases)} cases, {tally.counts()}")
    assert tally.counts() == {
        **tally.counts(),
        "tracebacks": 0,
        "internal_errors": 0,
        "hangs": 0,
        "wrong_exit_codes": 0,
    }, tally.tracebacks + tally.internal + tally.hangs + tally.wrong_exit


def _run_all(all_cases: list[Case], base: Path, tmp_path: Path, tally: Tally) -> None:
    for n, case in enumerate(all_cases):
        app = tmp_path / f"c{n}" / "app"
        app.parent.mkdir()
        shutil.copytree(base, app, symlinks=True)
        args = case.setup(app)
        started = time.monotonic()
        before = tally.counts()
        tally.runs += 1
        _in_process(args, tally, case)
        if case.real:
            tally.runs += 1
            _real_process(args, tally, case)
        if os.environ.get("HOSTILE_TRACE"):  # a log of each case, for whoever debugs one
            with open(os.environ["HOSTILE_TRACE"], "a") as trace:
                trace.write(
                    f"{time.monotonic() - started:6.2f}s {case.name} "
                    f"{'' if tally.counts() == {**before, 'runs': tally.runs} else 'BAD'}"
                    "\n"
                )
        shutil.rmtree(app.parent, ignore_errors=True)
