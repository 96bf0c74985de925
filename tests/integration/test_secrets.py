"""Secrets never shown: credentials in URLs, in every form, are redacted in every output and in
every file the tool writes (plans, journals, logs, backups, snapshots, caches)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repair.proc import redact
from tests.integration.test_pipeline import Outcome
from tests.kit import site_packages

SECRET = "hunter2secret"


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{SECRET}@host/simple",
        f"https://:{SECRET}@host/simple",
        f"https://user:p@{SECRET}@host/simple",
        f"https://{SECRET}@host/simple",
        f"name @ https://user:{SECRET}@host/pkg-1.0.whl",
        f"git+https://user:{SECRET}@github.com/a/b.git@main#egg=b",
        f"--index-url=https://user:{SECRET}@host/simple",
        f"(https://user:{SECRET}@host/simple)",
    ],
)
def test_every_form_of_credentials_is_redacted(url: str) -> None:
    assert SECRET not in redact(url)
    assert "****" in redact(url)


def _files_under(*roots: Path) -> list[Path]:
    out = []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            out += [Path(dirpath) / n for n in names]
    return out


@pytest.mark.slow
def test_no_output_or_written_file_shows_a_secret(
    app: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "1")
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text()
        + f"# mirror: https://user:{SECRET}@mirror.example/simple\n"
    )
    index = f"https://user:p@{SECRET}@127.0.0.1:9/simple"
    common = [
        "--dir",
        str(app),
        "--find-links",
        str(wheelhouse),
        "--extra-index-url",
        index,
        "--force",
    ]
    outputs = []
    for args in (
        ["check", "--json", "--dir", str(app)],
        ["check", "--dir", str(app)],
        ["--dry-run", "--json", *common],
        ["--dry-run", *common],
        ["--yes", "--json", *common],
        ["report", "--dir", str(app)],
        ["backup", "create", "--json", "--dir", str(app)],
        ["backup", "list", "--json", "--dir", str(app)],
    ):
        out = Outcome(args)
        outputs.append((args, out.output))
    assert (site_packages(app / "venv") / "einops" / "__init__.py").exists(), outputs[4]
    shown = [args for args, text in outputs if SECRET in text]
    assert shown == []
    home = Path(os.environ["HOME"])
    written = [
        p
        for p in _files_under(app / ".repair-backups", home)
        if p.is_file() and not p.is_symlink() and SECRET.encode() in p.read_bytes()
    ]
    assert written == []
