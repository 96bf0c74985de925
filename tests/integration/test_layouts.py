"""The layouts web UIs are installed in, each found from its own markers without options: ComfyUI
portable (embedded Python), ComfyUI Desktop (uv-made .venv in a base folder), StabilityMatrix,
Pinokio, SD.Next without a venv, uv-made venvs; and folders that are no web UI at all."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli import finding_ids, invoke, run_check
from tests.kit import build_wheel, copy_venv, make_windows_tree, unpack_wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("layoutwheels")
    return {
        "numpy": build_wheel(d, "numpy", "1.26.4"),
        "transformers": build_wheel(d, "transformers", "4.40.0", requires=["numpy>=1.17"]),
        "pip": build_wheel(d, "pip", "24.0"),
    }


def comfy_files(app: Path, nodes: dict[str, str] | None = None) -> Path:
    app.mkdir(parents=True, exist_ok=True)
    (app / "main.py").write_text("")
    (app / "comfy").mkdir()
    (app / "comfy" / "model_management.py").write_text("")
    (app / "nodes.py").write_text("")
    # A line only for Pythons before 3.11: the embedded 3.12 must not be asked for it.
    (app / "requirements.txt").write_text(
        "numpy>=1.25\ntransformers>=4.37\nlegacy-only; python_version < '3.11'\n"
    )
    for name, reqs in (nodes or {}).items():
        (app / "custom_nodes" / name).mkdir(parents=True)
        (app / "custom_nodes" / name / "requirements.txt").write_text(reqs)
    return app


def portable(root: Path, wheels: dict[str, Path]) -> Path:
    """ComfyUI_windows_portable as its 7z unpacks: python_embeded with python312._pth and no
    pyvenv.cfg, ComfyUI beside it, the run_*.bat launchers."""
    base = root / "ComfyUI_windows_portable"
    embedded = base / "python_embeded"
    embedded.mkdir(parents=True)
    (embedded / "python.exe").write_bytes(b"MZ\x90\x00")
    (embedded / "python312.dll").write_bytes(b"MZ\x90\x00")
    (embedded / "python312.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (embedded / "python312._pth").write_text("python312.zip\n.\n../ComfyUI\nimport site\n")
    site = embedded / "Lib" / "site-packages"
    site.mkdir(parents=True)
    for name in ("numpy", "transformers", "pip"):
        unpack_wheel(wheels[name], site)
    (base / "run_nvidia_gpu.bat").write_text(
        ".\\python_embeded\\python.exe -s ComfyUI\\main.py --windows-standalone-build\npause\n"
    )
    comfy_files(base / "ComfyUI", {"ComfyUI-Impact": "numpy==1.26.4\nultralytics\n"})
    return base


def _remove_pip(site: Path) -> None:
    import shutil

    for entry in site.iterdir():
        if entry.name.startswith("pip"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _unmet(report: dict[str, Any]) -> dict[str, Any]:
    return {f["subject"]: f for f in report["findings"] if f["id"] == "requirement-unmet"}


@pytest.mark.parametrize("where", ["ComfyUI", ".", "python_embeded"])
def test_portable_found_from_any_of_its_folders(
    tmp_path: Path, wheels: dict[str, Path], where: str
) -> None:
    base = portable(tmp_path, wheels)
    code, report = run_check(base / where)
    target = report["target"]
    assert target["layout"] == "comfyui-portable"
    assert target["manifest"] == "comfyui"
    assert Path(target["dir"]) == (base / "ComfyUI").resolve()
    assert Path(target["venv"]) == base / "python_embeded"
    assert "run_nvidia_gpu.bat" in target["sources"]["layout"]
    assert "python312._pth (Python 3.12)" in target["sources"]["layout"]
    assert target["python"]["version"].startswith("3.12")
    ids = finding_ids(report)
    assert "venv-missing" not in ids and "venv-interpreter-broken" not in ids
    unmet = _unmet(report)
    assert set(unmet) == {"ultralytics"}  # the 3.10-only line is not asked of 3.12
    assert unmet["ultralytics"]["details"]["requested_by"] == "custom node ComfyUI-Impact"
    assert "python_embeded/python.exe -s -m pip" in unmet["ultralytics"]["remedy"]


def test_portable_is_never_given_a_venv(tmp_path: Path, wheels: dict[str, Path]) -> None:
    base = portable(tmp_path, wheels)
    result = invoke("--json", "--dry-run", "--dir", str(base / "ComfyUI"))
    plan = json.loads(result.stdout)["plan"]
    assert not any(s["kind"] == "recreate-venv" for s in plan)
    invoke("--yes", "--clean-venv", "--dir", str(base / "ComfyUI"))
    assert not (base / "ComfyUI" / "venv").exists() and not (base / "ComfyUI" / ".venv").exists()
    assert (base / "python_embeded" / "python312._pth").is_file()
    # The embedded Python gone: said, never replaced by a venv beside it.
    import shutil

    shutil.rmtree(base / "python_embeded")
    code, report = run_check(base / "ComfyUI")
    assert finding_ids(report)[:1] == ["venv-missing"]
    result = invoke("--json", "--dry-run", "--dir", str(base / "ComfyUI"))
    data = json.loads(result.stdout)
    assert data["plan"] == []
    invoke("--yes", "--dir", str(base / "ComfyUI"))
    assert not (base / "python_embeded").exists() and not (base / "ComfyUI" / "venv").exists()


def test_desktop_base_folder_with_a_uv_venv(tmp_path: Path, template_venv: Path) -> None:
    base = tmp_path / "Documents" / "ComfyUI"
    base.mkdir(parents=True)
    for name in ("custom_nodes", "user", "models", "input", "output"):
        (base / name).mkdir()
    (base / "custom_nodes" / "ComfyUI-KJNodes").mkdir()
    (base / "custom_nodes" / "ComfyUI-KJNodes" / "requirements.txt").write_text("pip\n")
    venv = copy_venv(template_venv, base / ".venv")
    cfg = venv / "pyvenv.cfg"
    cfg.write_text(cfg.read_text() + "uv = 0.8.13\n")
    from tests.kit import site_packages

    _remove_pip(site_packages(venv))
    code, report = run_check(base)
    target = report["target"]
    assert target["layout"] == "comfyui-desktop" and target["manifest"] == "comfyui"
    assert "made by uv" in target["sources"]["layout"]
    assert Path(target["venv"]) == base / ".venv"
    ids = finding_ids(report)
    assert "pip-missing" not in ids  # normal for a uv venv
    assert _unmet(report)["pip"]["details"]["requested_by"] == "custom node ComfyUI-KJNodes"
    result = invoke("--json", "--dry-run", "--dir", str(base))
    plan = json.loads(result.stdout)["plan"]
    from repair.env.packages import find_uv

    if find_uv() is None:
        assert plan[0]["kind"] == "ensure-pip" and "made by uv" in plan[0]["summary"]
    else:
        assert all(s["kind"] != "ensure-pip" for s in plan)


def test_stabilitymatrix_package(tmp_path: Path, wheels: dict[str, Path]) -> None:
    data = tmp_path / "StabilityMatrix" / "Data"
    (data / "Packages").mkdir(parents=True)
    (data / ".sm-portable").write_text("")
    app = comfy_files(data / "Packages" / "ComfyUI")
    make_windows_tree(
        app / "venv", [wheels["numpy"], wheels["transformers"], wheels["pip"]], version="3.10.11"
    )
    code, report = run_check(app)
    target = report["target"]
    assert target["layout"] == "stabilitymatrix" and target["manifest"] == "comfyui"
    assert target["sources"]["layout"] == (
        "StabilityMatrix package Data/Packages/ComfyUI (portable: .sm-portable)"
    )
    assert Path(target["venv"]) == app / "venv"
    assert target["python"]["version"] == "3.10.11"
    assert "legacy-only" in _unmet(report)  # a 3.10 venv is asked for it
    # The launcher's own folder is not an install; it says which are.
    result = invoke("check", "--dir", str(tmp_path / "StabilityMatrix"))
    assert result.exit_code == 2
    assert "not a web UI install" in result.output
    assert str(app) in result.output


def test_pinokio_app_env(tmp_path: Path, wheels: dict[str, Path]) -> None:
    api = tmp_path / "pinokio" / "api" / "comfy.git"
    api.mkdir(parents=True)
    (api / "pinokio.js").write_text("module.exports = {}\n")
    app = comfy_files(api / "app")
    make_windows_tree(app / "env", [wheels["numpy"], wheels["transformers"], wheels["pip"]])
    for where in (api, app):
        code, report = run_check(where)
        target = report["target"]
        assert target["layout"] == "pinokio", where
        assert Path(target["dir"]) == app.resolve() and Path(target["venv"]) == app / "env"
        assert "venv-missing" not in finding_ids(report)


@pytest.mark.parametrize("setting", ['export venv_dir="-"\n', "SKIP_VENV=1\n"])
def test_sdnext_without_a_venv(tmp_path: Path, setting: str) -> None:
    app = tmp_path / "sdnext"
    (app / "modules").mkdir(parents=True)
    for name in ("installer.py", "launch.py", "modules/loader.py"):
        (app / name).write_text("")
    (app / "requirements.txt").write_text("packaging\n")
    (app / "webui-user.sh").write_text(setting)
    code, report = run_check(app, "-v")
    target = report["target"]
    assert target["manifest"] == "sdnext" and target["layout"] == "no-venv"
    assert "no venv" in target["sources"]["venv"]
    ids = finding_ids(report)
    assert "venv-missing" not in ids and "venv-interpreter-broken" not in ids
    result = invoke("--json", "--dry-run", "--clean-venv", "--dir", str(app))
    assert not any(s["kind"] == "recreate-venv" for s in json.loads(result.stdout)["plan"])


def test_uv_venv_without_pip_is_normal(app: Path) -> None:
    from tests.kit import site_packages

    cfg = app / "venv" / "pyvenv.cfg"
    cfg.write_text(cfg.read_text() + "uv = 0.9.2\n")
    _remove_pip(site_packages(app / "venv"))
    code, report = run_check(app)
    assert "pip-missing" not in finding_ids(report)
    assert "made by uv" in report["target"]["sources"]["layout"]


@pytest.mark.parametrize("kind", ["empty", "random", "parent"])
def test_not_a_web_ui(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    if kind == "random":
        (folder / "notes.txt").write_text("hello\n")
        (folder / "photos").mkdir()
    if kind == "parent":
        comfy_files(folder / "AI" / "ComfyUI")
    before = sorted(os.listdir(folder))
    result = invoke("check", "--dir", str(folder))
    assert result.exit_code == 2
    assert "is not a web UI install" in result.output
    if kind == "parent":
        assert str(folder / "AI" / "ComfyUI") in result.output
    result = invoke("--yes", "--dir", str(folder))
    assert result.exit_code == 2
    assert sorted(os.listdir(folder)) == before  # no venv created, nothing changed


def test_venv_option_naming_an_embedded_python(tmp_path: Path, wheels: dict[str, Path]) -> None:
    base = portable(tmp_path, wheels)
    app = tmp_path / "elsewhere" / "ComfyUI"
    comfy_files(app)
    code, report = run_check(app, "--venv", str(base / "python_embeded"))
    assert report["target"]["layout"] == "comfyui-portable"
    assert report["target"]["python"]["version"].startswith("3.12")
    assert "venv-interpreter-broken" not in finding_ids(report)
