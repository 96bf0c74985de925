"""Every install format read right: RECORD, legacy installed-files.txt (relative to the
.egg-info folder), .egg-link and .pth development installs, files outside site-packages."""

from __future__ import annotations

from pathlib import Path

from repair.env.dists import live_dist, scan_site


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.10" / "site-packages"
    site.mkdir(parents=True)
    return site


def test_installed_files_txt_is_relative_to_the_egg_info_folder(tmp_path: Path) -> None:
    site = _site(tmp_path)
    egg = site / "antlr4_python3_runtime-4.9.3-py3.10.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: antlr4-python3-runtime\nVersion: 4.9.3\n"
    )
    (egg / "installed-files.txt").write_text(
        "../../../../bin/pygrun\n../antlr4/Lexer.py\nPKG-INFO\n"
    )
    dist = scan_site(site).dists[0]
    inside, outside = dist.record_paths
    assert outside == ["../../../bin/pygrun"]  # site/../../../ is the venv
    assert "antlr4/Lexer.py" in inside and f"{egg.name}/PKG-INFO" in inside
    assert dist.record_label == f"{egg.name}/installed-files.txt"
    assert (site / outside[0]).resolve() == (tmp_path / "venv" / "bin" / "pygrun").resolve()


def test_record_outside_paths_and_sizes(tmp_path: Path) -> None:
    site = _site(tmp_path)
    info = site / "tool-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: tool\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        "tool/__init__.py,sha256=abc,12\n../../../bin/tool,sha256=d,40\n"
        "tool-1.0.dist-info/RECORD,,\n"
    )
    dist = scan_site(site).dists[0]
    assert dist.record_paths == (
        ["tool/__init__.py", "tool-1.0.dist-info/RECORD"],
        ["../../../bin/tool"],
    )
    assert dist.record_sizes == {"tool/__init__.py": 12}
    assert dist.record_hashes["tool/__init__.py"] == "sha256=abc"


def test_egg_link_and_pth_development_installs_count_as_installed(tmp_path: Path) -> None:
    site = _site(tmp_path)
    for name, how in (("devpkg", "egg-link"), ("srcpkg", "pth")):
        project = tmp_path / name
        egg = project / f"{name}.egg-info"
        egg.mkdir(parents=True)
        (egg / "PKG-INFO").write_text(f"Name: {name}\nVersion: 0.1.dev0\n")
        if how == "egg-link":
            (site / f"{name}.egg-link").write_text(f"{project}\n.\n")
        else:
            (site / f"__editable__.{name}-0.1.pth").write_text(f"import os\n{project}\n")
    installed = scan_site(site).installed()
    assert installed["devpkg"].version == "0.1.dev0"
    assert installed["srcpkg"].version == "0.1.dev0"


def test_live_version_of_two_metadata_folders_is_the_one_on_disk(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text("x" * 10)
    for version, size in (("1.26.4", 10), ("2.1.0", 99)):
        info = site / f"numpy-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Name: numpy\nVersion: {version}\n")
        (info / "RECORD").write_text(f"numpy/__init__.py,sha256=x,{size}\n")
    scan = scan_site(site)
    assert scan.installed()["numpy"].version == "1.26.4"
    assert live_dist(list(reversed(scan.dists))).version == "1.26.4"
