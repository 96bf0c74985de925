"""Offline compatibility of requirement specifiers, protected-package rules, embedded Pythons."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from repair.app.nodes import keep_line, move_breaks, satisfiable
from repair.env.layout import VenvLayout, embedded_version


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [
        ("==1.26.4", ">=2", False),
        ("<2", ">=1.25", True),
        (">=4.37.2", "==4.30.0", False),
        (">=4.37.2", "==4.38.2", True),
        ("~=2.0", ">=2.5,<3", True),
        ("~=2.0", ">=3", False),
        ("==2.*", ">=2.1", True),
        ("==1.*", ">=2", False),
        (">1.0", "<1.0.1", True),
        ("!=1.5", "==1.5", False),
        ("", "==1.0", True),
    ],
)
def test_satisfiable(a: str, b: str, ok: bool) -> None:
    assert satisfiable([SpecifierSet(a), SpecifierSet(b)]) is ok


def test_move_breaks_each_kind() -> None:
    assert move_breaks({"version"}, "2.1.2", "2.5.0")
    assert move_breaks({"major"}, "1.26.4", "2.1.0")
    assert move_breaks({"major"}, "1.26.4", "1.26.5") is None
    assert move_breaks({"no-downgrade"}, "4.46.0", "4.38.2")
    assert move_breaks({"no-downgrade"}, "4.38.2", "4.46.0") is None
    assert move_breaks({"no-downgrade", "major"}, "4.46.0", "5.0.0")
    assert move_breaks({"version"}, None, "2.5.0") is None


def test_keep_line() -> None:
    assert keep_line("torch", {"version"}, "2.1.2+cu121") == "torch==2.1.2+cu121"
    assert keep_line("numpy", {"major"}, "1.26.4") == "numpy>=1,<2"
    assert (
        keep_line("transformers", {"no-downgrade", "major"}, "4.46.0") == "transformers>=4.46.0,<5"
    )


def test_embedded_python(tmp_path: Path) -> None:
    (tmp_path / "python.exe").write_bytes(b"MZ")
    (tmp_path / "python313.dll").write_bytes(b"MZ")
    assert embedded_version(tmp_path) == ("3.13", "python313.dll")
    (tmp_path / "python313._pth").write_text("python313.zip\n.\n")
    assert embedded_version(tmp_path) == ("3.13", "python313._pth")
    layout = VenvLayout.detect(tmp_path)
    assert layout.embedded and layout.windows
    assert layout.python == tmp_path / "python.exe"
    assert layout.site_packages() == tmp_path / "Lib" / "site-packages"
    (tmp_path / "pyvenv.cfg").write_text("home = C:\\\\Python313\n")
    assert not VenvLayout.detect(tmp_path).embedded  # a venv, not an embedded Python


@pytest.mark.skipif(__import__("os").name == "nt", reason="a shell script stands in for python")
def test_embedded_pip_runs_with_dash_s(tmp_path: Path) -> None:
    from repair.env.packages import pip_install

    embedded = tmp_path / "python_embeded"
    embedded.mkdir()
    (embedded / "python312._pth").write_text("python312.zip\n.\nimport site\n")
    python = embedded / "python.exe"
    python.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "argv"}\n')
    python.chmod(0o755)
    pip_install(python, ["numpy==1.26.4"], log_path=tmp_path / "log")
    argv = (tmp_path / "argv").read_text().split()
    assert argv[:4] == ["-s", "-m", "pip", "install"] and "numpy==1.26.4" in argv
