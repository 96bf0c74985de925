"""A rebuild gives back what worked: the same Python, the same torch build, the same working
set. Real wheels with local version tags, a torch index and a package index on 127.0.0.1, real
pip, real venvs (copied from a template built once per module)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from repair.app.target import resolve
from repair.backup.store import list_backups
from tests.cli import invoke
from tests.integration.installkit import installed_versions
from tests.kit import build_wheel, copy_venv, pip_install, site_packages
from tests.localindex import LocalIndex

REQUIREMENTS = "numpy==1.26.4\neinops\n"


def _torch(dest: Path, version: str, cuda: str) -> None:
    build_wheel(
        dest,
        "torch",
        version,
        files={
            "torch/__init__.py": f"__version__ = {version!r}\n",
            "torch/version.py": f"__version__ = {version!r}\ncuda = {cuda}\nhip = None\n",
        },
    )


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalIndex, LocalIndex]]:
    """A torch index (CUDA 12.1, CPU and a newer CUDA build) and a package index that also
    carries a newer plain torch and newer releases of everything (what a resolve would take)."""
    torch_dir = tmp_path_factory.mktemp("torch-index")
    _torch(torch_dir, "2.1.2+cu121", "'12.1'")
    _torch(torch_dir, "2.1.2+cpu", "None")
    _torch(torch_dir, "2.12.1+cu130", "'13.0'")
    pypi = tmp_path_factory.mktemp("pypi")
    _torch(pypi, "2.12.1", "'13.0'")
    for name, versions in (
        ("numpy", ("1.26.4", "2.1.0")),
        ("einops", ("0.8.0", "0.9.0")),
        ("handmade", ("1.0", "2.0")),
    ):
        for v in versions:
            build_wheel(pypi, name, v)
    with LocalIndex(torch_dir) as t, LocalIndex(pypi) as p:
        yield t, p


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory,
    template_venv: Path,
    indexes: tuple[LocalIndex, LocalIndex],
) -> Path:
    """A venv with torch 2.1.2+cu121, the app's requirements at older releases and a package
    installed by hand."""
    torch, pypi = indexes
    venv = copy_venv(template_venv, tmp_path_factory.mktemp("rebuild") / "venv")
    links = [Path(torch.folder), Path(pypi.folder)]
    pip_install(
        venv,
        "torch==2.1.2+cu121",
        "numpy==1.26.4",
        "einops==0.8.0",
        "handmade==1.0",
        find_links=links,
    )
    return venv


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The indexes on 127.0.0.1 are the only package sources."""
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def app(tmp_path: Path, template: Path, indexes: tuple[LocalIndex, LocalIndex], env: None) -> Path:
    torch, _ = indexes
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.txt").write_text(REQUIREMENTS)
    (root / "pyproject.toml").write_text("[project]\nname = 'testui'\n")  # virtualenv's .venv bait
    (root / "testui.toml").write_text(
        'schema = 1\nname = "testui"\ntitle = "A test web UI"\n'
        '[python]\nsupported = ">=3.8"\n[requirements]\nfiles = ["requirements.txt"]\n'
        f'[torch.cuda]\npackages = ["torch==2.1.2"]\nindex_url = "{torch.simple()}"\n'
        f'[torch.cpu]\npackages = ["torch==2.1.2+cpu"]\nindex_url = "{torch.simple()}"\n'
    )
    copy_venv(template, root / "venv")
    return root


def repair(app: Path, pypi: LocalIndex, *args: str) -> tuple[int, dict[str, Any], str]:
    result = invoke(
        "--json",
        "--yes",
        "--dir",
        str(app),
        "--manifest",
        str(app / "testui.toml"),
        "--index-url",
        pypi.simple(),
        *args,
    )
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, report, result.stderr


def cfg_version(venv: Path) -> str:
    return next(
        line.split("=", 1)[1].strip()
        for line in (venv / "pyvenv.cfg").read_text().splitlines()
        if line.startswith(("version =", "version_info ="))
    )


def test_clean_venv_gives_back_the_same_torch_python_and_working_set(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    torch, pypi = indexes
    before = installed_versions(app / "venv")
    python_before = cfg_version(app / "venv")
    code, report, err = repair(app, pypi, "--clean-venv", "--backend", "auto")
    assert code == 0, err
    after = installed_versions(app / "venv")
    # The same torch build, never the newer one either index offers.
    assert after["torch"] == "2.1.2+cu121"
    # The package installed by hand survives; unpinned requirements do not move.
    assert after["handmade"] == "1.0" and after["einops"] == "0.8.0"
    assert {k: v for k, v in after.items() if k not in ("pip", "setuptools", "wheel")} == {
        k: v for k, v in before.items() if k not in ("pip", "setuptools", "wheel")
    }
    # The venv's own Python, named in the plan.
    assert cfg_version(app / "venv").rsplit(".", 1)[0] == python_before.rsplit(".", 1)[0]
    recreate = report["plan"][0]
    assert recreate["params"]["python"] in recreate["summary"]
    # Nothing written into the app folder but the venv and the backups, and the report says so.
    assert sorted(p.name for p in app.iterdir()) == [
        ".repair-backups",
        "pyproject.toml",
        "requirements.txt",
        "testui.toml",
        "venv",
    ]
    assert report["written_outside_venv"] == []
    assert list_backups(resolve(str(app)))


def test_a_torch_build_change_is_a_plan_step_with_its_reason(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    _, pypi = indexes
    code, report, err = repair(app, pypi, "--clean-venv", "--backend", "cpu", "--dry-run")
    assert code == 1, err
    torch = next(s for s in report["plan"] if s["kind"] == "install-torch")
    assert torch["params"]["requirements"] == ["torch==2.1.2+cpu"]
    assert not torch["params"]["keep"] and "cuda" in torch["summary"]
    assert "does not fit the backend cpu" in torch["summary"]

    code, report, err = repair(app, pypi, "--clean-venv", "--backend", "cpu")
    assert code == 0, err
    after = installed_versions(app / "venv")
    assert after["torch"] == "2.1.2+cpu" and after["handmade"] == "1.0"


def test_a_requirement_the_old_version_does_not_meet_moves_and_the_plan_says_so(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    _, pypi = indexes
    (app / "requirements.txt").write_text("numpy==1.26.4\neinops>=0.9\n")
    code, report, err = repair(app, pypi, "--clean-venv", "--dry-run")
    moves = next(s for s in report["plan"] if s["kind"] == "install-requirements")["params"][
        "moves"
    ]
    assert [(m["name"], m["from"], m["to"]) for m in moves] == [("einops", "0.8.0", ">=0.9")]
    code, report, err = repair(app, pypi, "--clean-venv")
    assert code == 0, err
    after = installed_versions(app / "venv")
    assert after["einops"] == "0.9.0" and after["handmade"] == "1.0"


def test_fresh_resolves_from_the_requirement_files_alone(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    _, pypi = indexes
    code, report, err = repair(app, pypi, "--clean-venv", "--fresh")
    assert code == 0, err
    after = installed_versions(app / "venv")
    assert after["einops"] == "0.9.0" and "handmade" not in after
    assert after["torch"] == "2.1.2+cu121"  # torch never changes silently, fresh or not


def test_the_new_venv_is_verified_against_the_plan(template: Path) -> None:
    from repair.rebuild.verify import verify_set

    assert (
        verify_set(template, {"numpy": "1.26.4", "handmade": "1.0"}, (), ["torch==2.1.2+cu121"])
        == []
    )
    problems = verify_set(template, {"numpy": "2.1.0", "gone": "1.0"}, (), ["torch==2.1.2"])
    assert problems == [
        "gone is missing (planned: 1.0)",
        "numpy is 1.26.4, planned 2.1.0",
        "torch is 2.1.2+cu121, planned 2.1.2",
    ]


def test_install_stops_before_building_when_the_torch_index_is_down(
    tmp_path: Path, env: None
) -> None:
    from tests.integration.installkit import install_args, make_world

    world = make_world(tmp_path / "world")
    text = world.manifest.read_text().replace(
        (world.root / "torch" / "cpu").as_uri(), "http://127.0.0.1:9/simple/"
    )
    world.manifest.write_text(text)
    target = tmp_path / "target"
    result = invoke(*install_args(world, target))
    assert result.exit_code == 1, result.output
    assert "torch" in result.stderr and "nothing was built" in result.stderr
    assert not (target / "venv").exists() and not list(tmp_path.glob("target/.venv*"))


def test_virtualenv_writes_nothing_beside_the_venv(tmp_path: Path) -> None:
    import sys

    from repair.rebuild.build import create_venv

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    create_venv(sys.executable, tmp_path / "venv")
    assert sorted(os.listdir(tmp_path)) == ["pyproject.toml", "venv"]
    assert (site_packages(tmp_path / "venv")).is_dir()


def test_with_uv_the_same_torch_build_comes_back(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    from repair.env.packages import find_uv

    if find_uv() is None:
        pytest.skip("uv is not installed")
    _, pypi = indexes
    before = installed_versions(app / "venv")
    code, report, err = repair(app, pypi, "--clean-venv", "--installer", "uv")
    assert code == 0, err
    after = installed_versions(app / "venv")
    assert after["torch"] == "2.1.2+cu121" and after["handmade"] == "1.0"
    assert {k: v for k, v in after.items() if k not in ("pip", "setuptools")} == {
        k: v for k, v in before.items() if k not in ("pip", "setuptools")
    }


@pytest.mark.skipif(os.name == "nt", reason="the fake nvidia-smi is a POSIX shell script")
def test_a_driver_too_old_for_the_build_is_a_reason_to_change_it(
    app: Path,
    indexes: tuple[LocalIndex, LocalIndex],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = Path(__file__).resolve().parents[1] / "data" / "tools"
    header = tmp_path / "nvidia-smi.txt"
    header.write_text(
        (tools / "nvidia-smi-h100.txt")
        .read_text()
        .replace("CUDA Version: 13.0", "CUDA Version: 11.8")
    )
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text(
        f'#!/bin/sh\ncase "$1" in --query-gpu*) cat "{tools}/nvidia-smi-h100-query.csv"; '
        f'exit 0;; esac\ncat "{header}"\n'
    )
    (fake / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ.get('PATH', '')}")
    _, pypi = indexes
    code, report, err = repair(app, pypi, "--clean-venv", "--dry-run")
    torch = next(s for s in report["plan"] if s["kind"] == "install-torch")
    assert not torch["params"]["keep"], torch
    assert "supports CUDA up to 11.8" in torch["summary"] and "2.1.2+cu121" in torch["summary"]


# ---------------------------------------------------------------------------------------------
# Reuse of the old venv's intact distributions


def _hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links as their targets' names), by its sha256."""
    import hashlib

    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _wheels(*indexes: LocalIndex) -> set[str]:
    """The wheels the indexes served, by project."""
    from tests.localindex import project_of

    return {
        project_of(path.rsplit("/", 1)[-1])
        for index in indexes
        for path in index.hits
        if path.startswith("/files/") and path.endswith(".whl")
    }


def _ino(venv: Path, rel: str) -> int:
    return (site_packages(venv) / rel).stat().st_ino


def _detail(report: dict[str, Any], kind: str) -> str:
    return str(next(s.get("detail", "") for s in report["steps"] if s["kind"] == kind))


def test_clean_venv_with_nothing_broken_links_everything_and_downloads_nothing(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    torch, pypi = indexes
    before = installed_versions(app / "venv")
    hashes = _hashes(app / "venv")
    code, report, err = repair(app, pypi, "--clean-venv", "--dry-run")
    assert (
        "3 reused from the old venv where their files are intact, 0 installed"
        in report["plan"][-1]["summary"]
    ), report["plan"]
    assert "reused from the old venv" in report["plan"][1]["summary"]
    torch.hits.clear()
    pypi.hits.clear()
    code, report, err = repair(app, pypi, "--clean-venv")
    assert code == 0, err
    # No installer ran for any of them: not one wheel was asked for.
    assert _wheels(torch, pypi) == set()
    assert "0 installed" in _detail(report, "install-torch")
    assert "0 B downloaded" in _detail(report, "install-torch")
    assert installed_versions(app / "venv") == before
    # The files are the backup's own (one inode), and the backup is exactly as it was.
    backup = next((app / ".repair-backups").rglob("pyvenv.cfg")).parent
    assert _hashes(backup) == hashes
    for rel in ("torch/version.py", "numpy/__init__.py", "handmade/__init__.py"):
        if (site_packages(backup) / rel).exists():
            assert _ino(app / "venv", rel) == _ino(backup, rel)
    checked = invoke("check", "--json", "--dir", str(app), "--manifest", str(app / "testui.toml"))
    assert checked.exit_code == 0, checked.stdout


def test_a_broken_distribution_is_installed_while_the_rest_is_linked(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    torch, pypi = indexes
    # einops loses a byte of a file (a size RECORD does not give): installed again.
    target = next(p for p in (site_packages(app / "venv") / "einops").rglob("*.py"))
    rel = target.relative_to(site_packages(app / "venv"))
    target.write_bytes(target.read_bytes() + b"# damaged\n")
    torch.hits.clear()
    pypi.hits.clear()
    code, report, err = repair(app, pypi, "--clean-venv")
    assert code == 0, err
    assert _wheels(torch, pypi) == {"einops"}
    assert installed_versions(app / "venv")["einops"] == "0.8.0"
    backup = next((app / ".repair-backups").rglob("pyvenv.cfg")).parent
    assert b"# damaged" not in (site_packages(app / "venv") / rel).read_bytes()
    assert b"# damaged" in (site_packages(backup) / rel).read_bytes()
    assert _ino(app / "venv", "handmade/__init__.py") == _ino(backup, "handmade/__init__.py")
    assert "1 installed" in _detail(report, "install-requirements") or "1 installed" in _detail(
        report, "install-torch"
    )


def test_no_reuse_installs_everything(app: Path, indexes: tuple[LocalIndex, LocalIndex]) -> None:
    torch, pypi = indexes
    torch.hits.clear()
    pypi.hits.clear()
    code, report, err = repair(app, pypi, "--clean-venv", "--no-reuse")
    assert code == 0, err
    assert {"torch", "numpy", "einops", "handmade"} <= _wheels(torch, pypi)
    assert "(--no-reuse)" in report["plan"][-1]["summary"]
    backup = next((app / ".repair-backups").rglob("pyvenv.cfg")).parent
    assert _ino(app / "venv", "handmade/__init__.py") != _ino(backup, "handmade/__init__.py")


def test_verify_files_reinstalls_a_file_changed_at_the_same_size(
    app: Path, indexes: tuple[LocalIndex, LocalIndex]
) -> None:
    torch, pypi = indexes
    target = site_packages(app / "venv") / "handmade" / "__init__.py"
    data = target.read_bytes()
    target.write_bytes(data[:-1] + (b"#" if data[-1:] != b"#" else b"!"))
    code, report, err = repair(app, pypi, "--clean-venv", "--verify-files", "--dry-run")
    assert (
        "2 reused from the old venv where their files are intact, 1 installed"
        in report["plan"][-1]["summary"]
    ), report["plan"]
    torch.hits.clear()
    pypi.hits.clear()
    code, report, err = repair(app, pypi, "--clean-venv", "--verify-files")
    assert code == 0, err
    assert _wheels(torch, pypi) == {"handmade"}
    assert (site_packages(app / "venv") / "handmade" / "__init__.py").read_bytes() == data
    backup = next((app / ".repair-backups").rglob("pyvenv.cfg")).parent
    assert _ino(app / "venv", "handmade/__init__.py") != _ino(backup, "handmade/__init__.py")
    assert _ino(app / "venv", "numpy/__init__.py") == _ino(backup, "numpy/__init__.py")
