"""What may be deleted or moved: canary files outside the venv survive every command.

Each case plants canaries where a careless tool would reach (beside the venv, behind a link, in a
Python installation, in another folder a tampered file names) and runs the command for real."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

from repair.app.target import resolve
from repair.backup.store import list_backups
from repair.errors import BusyError
from repair.transaction.journal import install_lock
from tests.integration.test_pipeline import Outcome
from tests.kit import build_wheel, pip_install, site_packages, tree_digest


def canary(folder: Path, name: str = "canary.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("must survive\n")
    return path


def fake_python_install(root: Path) -> Path:
    """A Python installation as a prefix looks: an interpreter and its standard library."""
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python3").symlink_to(sys.executable)
    lib = root / "lib" / "python3.10"
    (lib / "site-packages").mkdir(parents=True)
    (lib / "os.py").write_text("# the standard library\n")
    canary(root)
    return root


@pytest.mark.parametrize(
    "target", ["python-install", "base-prefix", "venv-home", "app-folder", "link"]
)
def test_venv_option_naming_what_is_not_a_venv_is_refused(
    app: Path, tmp_path: Path, target: str
) -> None:
    if target == "python-install":
        venv = fake_python_install(tmp_path / "py")
    elif target == "base-prefix":
        venv = Path(sys.base_prefix)
    elif target == "venv-home":
        home = next(
            line.split("=", 1)[1].strip()
            for line in (app / "venv" / "pyvenv.cfg").read_text().splitlines()
            if line.startswith("home")
        )
        venv = Path(home).parent
    elif target == "app-folder":
        venv = app
    else:
        venv = tmp_path / "linked-venv"
        venv.symlink_to(app / "venv", target_is_directory=True)
    before = tree_digest(app)
    for args in (
        ["--yes", "--clean-venv"],
        ["backup", "create"],
        ["backup", "create", "--archive"],
        ["backup", "restore", "--yes", "x"],
    ):
        out = Outcome([*args, "--dir", str(app), "--venv", str(venv)])
        assert out.exit_code == 2, (args, out.output)
        assert "Traceback" not in out.output and "refusing to change" in out.stderr, out.output
    assert tree_digest(app) == before  # not even a backups folder
    assert venv.exists()


def test_venv_dir_setting_naming_a_python_installation_is_refused(
    app: Path, tmp_path: Path
) -> None:
    py = fake_python_install(tmp_path / "py")
    (app / "webui-user.sh").write_text(f'export VENV_DIR="{py}"\n')
    out = Outcome(["--yes", "--clean-venv", "--dir", str(app), "--manifest", "a1111"])
    assert out.exit_code == 2 and "Python installation" in out.stderr, out.output
    assert (py / "canary.txt").exists() and (py / "lib" / "python3.10" / "os.py").exists()


@pytest.mark.slow
def test_record_outside_venv_is_found_and_repaired_inside_the_venv(
    app: Path, tmp_path: Path, wheelhouse: Path
) -> None:
    victim = canary(tmp_path / "venv.bak", "victim.txt")
    checkout = tmp_path / "checkout" / "linkedpkg"
    checkout_canary = canary(checkout, "__init__.py")
    site = site_packages(app / "venv")
    # A RECORD line that walks out of the venv, as a hand-edited or hostile wheel leaves it.
    record = next(site.glob("einops-*.dist-info")) / "RECORD"
    rel = os.path.relpath(victim, site)
    record.write_text(record.read_text() + f"{rel},,\n")
    # A package folder that is a link to a checkout elsewhere.
    house = tmp_path / "house"
    build_wheel(house, "linkedpkg", "1.0", files={"linkedpkg/__init__.py": "x = 1\n"})
    pip_install(app / "venv", "linkedpkg==1.0", find_links=[house])
    (app / "requirements.txt").write_text((app / "requirements.txt").read_text() + "linkedpkg\n")
    os.rename(site / "linkedpkg", tmp_path / "moved-away")
    (site / "linkedpkg").symlink_to(checkout, target_is_directory=True)

    out = Outcome(["check", "--json", "--dir", str(app)])
    found = {
        f["subject"]: f
        for f in json.loads(out.stdout)["findings"]
        if f["id"] == "record-outside-venv"
    }
    assert set(found) == {"einops", "linkedpkg"}, out.stdout
    assert found["einops"]["severity"] == "error"

    out = Outcome(
        ["--yes", "--dir", str(app), "--find-links", str(wheelhouse), "--find-links", str(house)]
    )
    assert out.exit_code in (0, 3), out.output
    assert victim.read_text() == "must survive\n"
    assert checkout_canary.read_text() == "must survive\n"
    assert not (site / "linkedpkg").is_symlink() and (site / "linkedpkg" / "__init__.py").exists()
    out = Outcome(["check", "--json", "--dir", str(app)])
    assert "record-outside-venv" not in out.stdout


def _archive_with(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = b"x", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind == tarfile.REGTYPE and data is not None:
        info.size = len(data)
    else:
        data = None
    return info, data


@pytest.mark.parametrize(
    "bad",
    [
        [_member("venv/pyvenv.cfg"), _member("venv/x", tarfile.LNKTYPE, link="../outside.txt")],
        [_member("venv/pyvenv.cfg"), _member("/abs/outside.txt")],
        [_member("venv/pyvenv.cfg"), _member("venv/../outside.txt")],
        [
            _member("venv/pyvenv.cfg"),
            _member("venv/lib", tarfile.SYMTYPE, link="../.."),
            _member("venv/lib/outside.txt"),
        ],
        [_member("venv/pyvenv.cfg"), _member("venv/dev", tarfile.CHRTYPE)],
    ],
)
def test_a_crafted_archive_is_refused_before_anything_is_written(
    app: Path, bad: list[tuple[tarfile.TarInfo, bytes | None]]
) -> None:
    out = Outcome(["backup", "create", "--archive", "--dir", str(app)])
    assert out.exit_code == 0, out.output
    info = list_backups(resolve(str(app)))[0]
    victim = canary(app.parent, "outside.txt")
    assert info.venv_path is not None
    _archive_with(info.venv_path, bad)
    before = tree_digest(app / "venv")
    out = Outcome(["backup", "restore", "--yes", info.id, "--dir", str(app)])
    assert out.exit_code in (1, 2), out.output
    assert "Traceback" not in out.output and "nothing was extracted" in out.output, out.output
    assert victim.read_text() == "must survive\n"
    assert tree_digest(app / "venv") == before  # the current venv is back in place


def test_tampered_backup_json_cannot_make_prune_delete_another_folder(
    app: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-venv"
    (other / "bin").mkdir(parents=True)
    (other / "pyvenv.cfg").write_text("home = /usr/bin\n")
    keep = canary(other)
    out = Outcome(["backup", "create", "--snapshot-only", "--dir", str(app)])
    assert out.exit_code == 0
    folder = list_backups(resolve(str(app)))[0].path
    meta = json.loads((folder / "backup.json").read_text())
    meta.update(has_venv=True, kind="copy", venv_path=str(other))
    (folder / "backup.json").write_text(json.dumps(meta))
    out = Outcome(["backup", "prune", "--yes", "--keep", "0", "--dir", str(app)])
    assert out.exit_code == 0, out.output
    assert keep.exists()


def test_tampered_journal_cannot_point_recovery_elsewhere(app: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-venv"
    (other / "bin").mkdir(parents=True)
    (other / "pyvenv.cfg").write_text("home = /usr/bin\n")
    keep = canary(other)
    folder = app / ".repair-backups" / "20250101-000000-beef"
    folder.mkdir(parents=True)
    (folder / "journal.json").write_text(
        json.dumps(
            {
                "state": "running",
                "venv": str(app / "venv"),
                "venv_backup": str(other),
                "created": True,
                "old_fp": {"dev": 0, "ino": 0},
            }
        )
    )
    before = tree_digest(app / "venv")
    out = Outcome(["--yes", "--dir", str(app)])
    assert out.exit_code == 2 and "not a backup folder" in out.stderr, out.output
    assert keep.exists() and tree_digest(app / "venv") == before


def test_two_apps_sharing_one_venv_share_its_lock(app: Path, tmp_path: Path) -> None:
    second = tmp_path / "second"
    second.mkdir()
    (second / "requirements.txt").write_text("einops\n")
    one = resolve(str(app))
    two = resolve(str(second), str(app / "venv"))
    with install_lock(one), pytest.raises(BusyError, match="venv"), install_lock(two):
        pass
    with install_lock(two):  # free again
        pass
