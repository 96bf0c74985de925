"""Reusing the distributions of a backed-up venv in a new one: real venvs, real pip, real
console scripts; the backup byte for byte as it was, even after pip upgrades a linked package."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from repair.env.wheelkit import build_wheel, unpack_wheel
from repair.rebuild.reuse import _record_hash, reuse_distributions
from tests.cli import run_check
from tests.conftest import APP_REQUIREMENTS
from tests.kit import (
    WINDOWS_HOST,
    copy_venv,
    make_windows_tree,
    pip_install,
    site_packages,
    tree_digest,
    venv_python,
)

KEEP = [
    ("numpy", "1.26.4"),
    ("accelerate", "1.2.0"),
    ("transformers", "4.40.0"),
    ("safetensors", "0.4.3"),
    ("einops", "0.8.0"),
    ("packaging", "24.0"),
    ("tooly", "1.0"),
]


def _tooly(folder: Path) -> Path:
    return build_wheel(
        folder,
        "tooly",
        "1.0",
        files={
            "tooly/__init__.py": "def main():\n    print('tooly ok')\n",
            "tooly-1.0.dist-info/entry_points.txt": "[console_scripts]\ntooly = tooly:main\n",
        },
    )


@pytest.fixture
def old_venv(tmp_path: Path, template_app_venv: Path, wheelhouse: Path) -> Path:
    venv = copy_venv(template_app_venv, tmp_path / "app" / "venv")
    pip_install(venv, str(_tooly(tmp_path / "wheels")))
    return venv


def test_reuse_into_a_fresh_venv(
    tmp_path: Path, old_venv: Path, template_venv: Path, wheelhouse: Path
) -> None:
    # The rebuild's situation: the old venv is moved into the backup, the new one takes its
    # place, so the scripts' #! lines name the new venv's path; here the old one stays where it
    # was to prove that they are rewritten for wherever the new venv is.
    before = tree_digest(old_venv)
    new = copy_venv(template_venv, tmp_path / "new" / "venv")
    result = reuse_distributions(old_venv, new, [*KEEP, ("not-there", "1.0"), ("einops", "0.7.0")])
    assert sorted(result.reused) == sorted(KEEP)
    assert result.left_to_install == [("not-there", "1.0"), ("einops", "0.7.0")]
    assert "not in the old venv" in result.reasons["not-there"]
    assert result.bytes_linked > 0 and result.files > 20
    assert tree_digest(old_venv) == before

    (tmp_path / "new" / "requirements.txt").write_text("\n".join(APP_REQUIREMENTS) + "\n")
    code, report = run_check(tmp_path / "new", "--verify-files")
    assert report["findings"] == [] and code == 0, report["findings"]
    script = new / ("Scripts/tooly.exe" if WINDOWS_HOST else "bin/tooly")
    out = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert out.stdout == "tooly ok\n", out.stderr
    check = subprocess.run(
        [str(venv_python(new)), "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout

    # pip replaces files, never edits them: the backup stays as it was.
    pip_install(new, "--upgrade", "numpy==2.1.0", find_links=[wheelhouse])
    pip_install(new, "--force-reinstall", "--no-deps", "einops==0.8.0", find_links=[wheelhouse])
    subprocess.run(
        [str(venv_python(new)), "-m", "pip", "uninstall", "-y", "tooly"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert tree_digest(old_venv) == before


def test_broken_files_are_left_to_install(
    tmp_path: Path, old_venv: Path, template_venv: Path
) -> None:
    site = site_packages(old_venv)
    (site / "einops" / "__init__.py").write_text("# truncated\n")
    target = site / "safetensors" / "__init__.py"
    size = target.stat().st_size
    target.write_bytes(b"#" * size)  # same size, other content
    (site / "accelerate" / "__init__.py").unlink()
    before = tree_digest(old_venv)
    new = copy_venv(template_venv, tmp_path / "new")
    result = reuse_distributions(old_venv, new, KEEP)
    left = dict(result.left_to_install)
    assert set(left) == {"einops", "accelerate"}
    assert "bytes, RECORD says" in result.reasons["einops"]
    assert "missing" in result.reasons["accelerate"]
    new2 = copy_venv(template_venv, tmp_path / "new2")
    hashed = reuse_distributions(old_venv, new2, KEEP, verify_hashes=True)
    assert set(dict(hashed.left_to_install)) == {"einops", "accelerate", "safetensors"}
    assert "hash" in hashed.reasons["safetensors"]
    assert not (site_packages(new) / "einops").exists()
    assert tree_digest(old_venv) == before


def _launcher(python: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__main__.py", "from tooly import main\nmain()\n")
    return b"MZ" + b"\x00" * 64 + f'#!"{python}"\r\n'.encode() + buf.getvalue()


def _windows_tree(root: Path, wheels: list[Path], *, embedded: bool, version: str) -> Path:
    if embedded:
        site = root / "Lib" / "site-packages"
        site.mkdir(parents=True)
        (root / "python.exe").write_bytes(b"MZ\x90\x00")
        xy = "".join(version.split(".")[:2])
        (root / f"python{xy}._pth").write_text(f"python{xy}.zip\n.\nimport site\n")
        (root / "Scripts").mkdir()
        for wheel in wheels:
            unpack_wheel(wheel, site)
    else:
        make_windows_tree(root, wheels, version=version)
    return root


@pytest.mark.parametrize("embedded", [False, True])
def test_windows_and_embedded_layouts(tmp_path: Path, embedded: bool) -> None:
    wheel = _tooly(tmp_path / "wheels")
    old = _windows_tree(tmp_path / "old", [wheel], embedded=embedded, version="3.10.11")
    site = old / "Lib" / "site-packages"
    python = str(old / ("python.exe" if embedded else "Scripts/python.exe"))
    exe = _launcher(python)
    (old / "Scripts" / "tooly.exe").write_bytes(exe)
    record = site / "tooly-1.0.dist-info" / "RECORD"
    with record.open("a") as f:
        f.write(f"../../Scripts/tooly.exe,{_record_hash(exe)},{len(exe)}\n")
    before = tree_digest(old)
    new = _windows_tree(tmp_path / "new", [], embedded=embedded, version="3.10.6")
    result = reuse_distributions(old, new, [("tooly", "1.0")])
    assert result.reused == [("tooly", "1.0")], result.reasons
    data = (new / "Scripts" / "tooly.exe").read_bytes()
    new_python = str(new / ("python.exe" if embedded else "Scripts/python.exe"))
    assert f'#!"{new_python}"\r\n'.encode() in data and python.encode() not in data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("__main__.py").startswith(b"from tooly")
    rows = (new / "Lib/site-packages/tooly-1.0.dist-info/RECORD").read_text().splitlines()
    assert f"../../Scripts/tooly.exe,{_record_hash(data)},{len(data)}" in rows
    assert tree_digest(old) == before
    assert (new / "Lib/site-packages/tooly/__init__.py").stat().st_ino == (
        site / "tooly/__init__.py"
    ).stat().st_ino


def test_another_python_reuses_nothing(tmp_path: Path) -> None:
    wheel = _tooly(tmp_path / "wheels")
    old = make_windows_tree(tmp_path / "old", [wheel], version="3.10.11")
    new = make_windows_tree(tmp_path / "new", [], version="3.11.4")
    result = reuse_distributions(old, new, [("tooly", "1.0")])
    assert result.reused == [] and result.left_to_install == [("tooly", "1.0")]
    assert "3.10" in result.reasons["tooly"] and "3.11" in result.reasons["tooly"]


def test_record_escaping_the_venv_is_refused(
    tmp_path: Path, old_venv: Path, template_venv: Path
) -> None:
    record = next(site_packages(old_venv).glob("einops-*.dist-info")) / "RECORD"
    with record.open("a") as f:
        f.write("../../../../../../etc/hostname,,\n")
    new = copy_venv(template_venv, tmp_path / "new")
    result = reuse_distributions(old_venv, new, [("einops", "0.8.0")])
    assert result.left_to_install == [("einops", "0.8.0")]
    assert "outside the venv" in result.reasons["einops"]
    assert not os.path.exists(site_packages(new) / "einops")


def test_a_clash_midway_leaves_nothing_behind(
    tmp_path: Path, old_venv: Path, template_venv: Path
) -> None:
    new = copy_venv(template_venv, tmp_path / "new")
    site = site_packages(new)
    (site / "numpy" / "lib").mkdir(parents=True)
    (site / "numpy" / "lib" / "twodim_base.py").write_text("someone else's\n")
    before = sorted(str(p.relative_to(new)) for p in new.rglob("*"))
    result = reuse_distributions(old_venv, new, [("numpy", "1.26.4"), ("einops", "0.8.0")])
    assert result.reused == [("einops", "0.8.0")]
    assert "could not place" in result.reasons["numpy"]
    after = sorted(
        str(p.relative_to(new))
        for p in new.rglob("*")
        if "einops" not in str(p) and "/bin/" not in f"/{p.relative_to(new)}"
    )
    assert after == [p for p in before if "/bin/" not in f"/{p}"]


@pytest.mark.parametrize(
    "fancy, verify", [("FLAVOUR = 'fancy, longer'\n", False), ("FLAVOUR = 'fanc'\n", True)]
)
def test_files_two_distributions_share_come_back_as_they_were_on_disk(
    tmp_path: Path, template_venv: Path, fancy: str, verify: bool
) -> None:
    # Two opencv-like flavours in one folder, installed one after the other as custom nodes do:
    # the second wrote the shared module; its content is what worked and what comes back, told
    # by its size, or by its hash when the sizes are equal and hashes are checked.
    wheels = tmp_path / "wheels"
    old = copy_venv(template_venv, tmp_path / "old" / "venv")
    flavours = (("cvflat", "FLAVOUR = 'flat'\n"), ("cvfancy", fancy))
    for name, body in flavours:
        pip_install(
            old,
            "--no-deps",
            str(
                build_wheel(
                    wheels,
                    name,
                    "1.0",
                    files={"cvshared/__init__.py": body, f"{name}_extra.py": ""},
                )
            ),
        )
    on_disk = (site_packages(old) / "cvshared" / "__init__.py").read_text()
    assert on_disk == fancy
    before = tree_digest(old)
    new = copy_venv(template_venv, tmp_path / "new" / "venv")
    result = reuse_distributions(
        old, new, [("cvflat", "1.0"), ("cvfancy", "1.0")], verify_hashes=verify
    )
    assert sorted(result.reused) == [("cvfancy", "1.0"), ("cvflat", "1.0")], result.reasons
    assert (site_packages(new) / "cvshared" / "__init__.py").read_text() == on_disk
    assert (site_packages(new) / "cvflat_extra.py").exists()
    assert tree_digest(old) == before
