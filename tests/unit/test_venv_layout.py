"""Venv layout knowledge on synthetic trees, POSIX and Windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.env.layout import POSIX, WINDOWS, PyvenvCfgError, VenvLayout, read_pyvenv_cfg


def test_windows_layout(tmp_path: Path) -> None:
    (tmp_path / "Scripts").mkdir()
    (tmp_path / "Scripts" / "python.exe").write_bytes(b"MZ")
    (tmp_path / "Lib" / "site-packages").mkdir(parents=True)
    layout = VenvLayout.detect(tmp_path)
    assert layout.kind == WINDOWS
    assert layout.python == tmp_path / "Scripts" / "python.exe"
    assert layout.site_packages() == tmp_path / "Lib" / "site-packages"


def test_posix_layout_finds_version_folder(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    layout = VenvLayout.detect(tmp_path)
    assert layout.kind == POSIX
    assert layout.site_packages() == tmp_path / "lib" / "python3.12" / "site-packages"
    assert layout.site_packages("3.12.3") == tmp_path / "lib" / "python3.12" / "site-packages"


def test_pyvenv_cfg_is_read_tolerantly(tmp_path: Path) -> None:
    cfg = tmp_path / "pyvenv.cfg"
    cfg.write_bytes(
        b"\xef\xbb\xbfhome = C:\\Python310\r\njunk line\r\n"
        b"version_info = 3.10.6.final.0\r\n"
        b"include-system-site-packages = TRUE\r\nuv = 0.4.0\r\n"
    )
    parsed = read_pyvenv_cfg(cfg)
    assert parsed.home == "C:\\Python310"
    assert parsed.version == "3.10.6.final.0"
    assert parsed.include_system_site_packages


def test_pyvenv_cfg_binary_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "pyvenv.cfg"
    cfg.write_bytes(b"\x00\x00\x00")
    with pytest.raises(PyvenvCfgError):
        read_pyvenv_cfg(cfg)
