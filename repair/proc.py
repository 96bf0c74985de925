"""Every subprocess goes through here: a cleaned environment, timeouts, secrets redacted, and a
missing program reported as a result, never a crash."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repair.errors import ProcessError

# user:token@ in URLs (an empty user, a password with '@' in it: everything between "://" and the
# last '@' before the host), and the usual token-bearing query parameters. Anchored on "://" so
# that no line, however long, costs more than linear time.
_CRED_RE = re.compile(r"(?<=://)[^/\s?#\"'<>]*@")
_TOKEN_RE = re.compile(r"(?i)((?:token|password|passwd|secret|api[_-]?key)=)[^&\s]+")

# Variables of the tool's own interpreter that would leak into the venv's python.
_PYTHON_VARS = (
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "__PYVENV_LAUNCHER__",
)


def redact(text: str) -> str:
    """Hide credentials in URLs (``https://user:token@host`` -> ``https://****@host``)."""
    if "://" in text:
        text = _CRED_RE.sub("****@", text)
    return _TOKEN_RE.sub(lambda m: f"{m.group(1)}****", text)


def redact_data(data: Any) -> Any:
    """``redact`` on every string inside lists and dicts (a plan, a journal, a report)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v) for v in data]
    return data


def clean_env(
    extra: Mapping[str, str] | None = None, *, venv: Path | None = None, keep_pip: bool = True
) -> dict[str, str]:
    """The environment for a child process: the tool's own venv and Python variables removed.

    ``keep_pip`` keeps the user's ``PIP_*`` settings (the tool honours the user's pip
    configuration); tests that need isolation pass their own through ``extra``.
    """
    env = dict(os.environ)
    for name in _PYTHON_VARS:
        env.pop(name, None)
    env.pop("VIRTUAL_ENV", None)
    env.pop("CONDA_PREFIX", None)
    if not keep_pip:
        for name in list(env):
            if name.startswith("PIP_"):
                del env[name]
    env.setdefault("PYTHONIOENCODING", "utf-8")
    env["PYTHONUTF8"] = "1"
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    check: bool = False,
) -> Result:
    """Run a program and capture its output as text.

    A program that cannot be started or times out raises ``ProcessError``; a non-zero exit raises
    only with ``check=True``.
    """
    argv = tuple(os.fspath(a) for a in args)
    shown = redact(" ".join(argv))
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=dict(env) if env is not None else clean_env(),
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise ProcessError(f"program not found: {argv[0]}") from exc
    except PermissionError as exc:
        raise ProcessError(f"cannot run {argv[0]}: permission denied") from exc
    except OSError as exc:
        raise ProcessError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProcessError(f"timed out after {timeout:g}s: {shown}") from exc
    result = Result(argv, proc.returncode, proc.stdout or "", proc.stderr or "")
    if check and not result.ok:
        lines = (result.stderr or result.stdout).strip().splitlines()
        tail = redact(lines[-1]) if lines else ""
        raise ProcessError(
            f"{shown} failed with exit code {result.returncode}" + (f": {tail}" if tail else ""),
            returncode=result.returncode,
            output=redact(result.stdout + result.stderr),
        )
    return result


def which(name: str, path: str | None = None) -> str | None:
    # lazy: start-up time
    import shutil

    return shutil.which(name, path=path)


def stream(
    args: Sequence[str | os.PathLike[str]],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    log_line: Callable[[str], bool] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Run a long program, appending its output (redacted) to ``log`` line by line as it comes;
    ``on_line`` sees each line; ``log_line`` (when given) says which lines the log keeps.
    Returns the exit code. A program that cannot start raises
    ``ProcessError``; so does one that runs past ``timeout`` (it is killed). Ctrl-C kills the
    child before propagating. With ``on_start``, the child runs in its own process group (POSIX),
    whose id ``on_start`` receives before the child's output is read."""

    argv = [os.fspath(a) for a in args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {redact(' '.join(argv))}\n")
        out.flush()
        try:
            child = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else clean_env(),
                cwd=cwd,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=on_start is not None and os.name != "nt",
            )
        except FileNotFoundError as exc:
            raise ProcessError(f"program not found: {argv[0]}") from exc
        except OSError as exc:
            raise ProcessError(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        started = time.monotonic()
        try:
            if on_start is not None:
                on_start(child.pid)
            assert child.stdout is not None
            for line in child.stdout:
                line = redact(line)
                if log_line is None or log_line(line):
                    out.write(line)
                if on_line is not None:
                    on_line(line.rstrip("\n"))
                if timeout is not None and time.monotonic() - started > timeout:
                    _kill(child, on_start is not None)
                    raise ProcessError(f"timed out after {timeout:g}s: {redact(' '.join(argv))}")
            code = child.wait()
        except BaseException:
            if child.poll() is None:
                _kill(child, on_start is not None)
                child.wait()
            raise
        out.write(f"[exit code {code}]\n")
    return code


def _kill(child: subprocess.Popen[str], group: bool) -> None:
    """Kill the child, and its whole process group when it has its own."""
    if group and os.name != "nt":
        # lazy: start-up time
        import signal

        try:
            os.killpg(child.pid, signal.SIGKILL)
            return
        except OSError:
            pass
    child.kill()
