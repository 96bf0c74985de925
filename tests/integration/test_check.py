"""repair check on real venvs, broken the way users break them: one test per finding id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli import finding_ids, run_check
from tests.kit import make_windows_tree, pip_install, site_packages


def test_healthy_install_reports_nothing(app: Path) -> None:
    code, report = run_check(app)
    assert report["findings"] == [], report["findings"]
    assert code == 0
    assert report["summary"] == {"errors": 0, "warnings": 0, "infos": 0, "healthy": True}
    assert report["target"]["manifest"] == "generic"
    assert report["target"]["python"]["version"].startswith("3.")


def test_venv_missing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    code, report = run_check(tmp_path)
    assert finding_ids(report) == ["venv-missing"]
    assert code == 1


def test_pyvenv_cfg_home_gone(app: Path) -> None:
    cfg = app / "venv" / "pyvenv.cfg"
    text = "\n".join(
        "home = /nonexistent/python3.10/bin" if line.startswith("home") else line
        for line in cfg.read_text().splitlines()
    )
    cfg.write_text(text + "\n")
    code, report = run_check(app)
    # The venv's python link still resolves to a Python that runs: the smallest fix is to
    # rewrite home, and the venv still starts (a warning).
    (moved,) = [f for f in report["findings"] if f["id"] == "venv-home-moved"]
    assert moved["severity"] == "warning" and "venv-interpreter-broken" not in finding_ids(report)
    assert code == 0
    code, _ = run_check(app, "--strict")
    assert code == 1


def test_pyvenv_cfg_binary(app: Path) -> None:
    (app / "venv" / "pyvenv.cfg").write_bytes(b"\x00\x01\x02garbage")
    code, report = run_check(app)
    found = [f for f in report["findings"] if f["id"] == "venv-interpreter-broken"]
    assert found and "pyvenv.cfg is binary" in found[0]["message"]


def test_python_does_not_run(app: Path) -> None:
    python = app / "venv" / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\necho 'boom: cannot start' >&2\nexit 3\n")
    python.chmod(0o755)
    code, report = run_check(app)
    found = [f for f in report["findings"] if f["id"] == "venv-interpreter-broken"]
    assert found and "boom: cannot start" in found[0]["message"]


def test_python_unsupported(app: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "old.toml"
    manifest.write_text(
        'schema = 1\nname = "old"\ntitle = "Old app"\n'
        '[python]\nsupported = ">=3.6,<3.9"\nrecommended = "3.8.10"\n'
    )
    code, report = run_check(app, "--manifest", str(manifest))
    found = [f for f in report["findings"] if f["id"] == "python-unsupported"]
    assert found and "3.8.10" in found[0]["remedy"]
    assert code == 1


def test_pip_missing(app: Path) -> None:
    site = site_packages(app / "venv")
    for path in site.glob("pip*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    code, report = run_check(app)
    assert finding_ids(report) == ["pip-missing"]
    assert code == 0  # a warning alone is healthy...
    code, _ = run_check(app, "--strict")
    assert code == 1  # ...unless --strict


def test_stale_residue_tilde_folder_and_lost_metadata(app: Path) -> None:
    site = site_packages(app / "venv")
    shutil.copytree(site / "numpy", site / "~umpy")
    (site / "einops-0.8.0.dist-info" / "METADATA").unlink()
    code, report = run_check(app)
    stale = [f for f in report["findings"] if f["id"] == "stale-residue"]
    subjects = {f["subject"] for f in stale}
    assert "~umpy" in subjects and "einops" in subjects
    assert code == 1


def test_duplicate_distribution_numpy_side_by_side(
    app: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    # What an interrupted upgrade leaves: numpy 2's files and metadata over numpy 1's.
    other = tmp_path / "target"
    pip_install(
        app / "venv", "--target", str(other), "--no-deps", "numpy==2.1.0", find_links=[wheelhouse]
    )
    site = site_packages(app / "venv")
    shutil.copytree(other / "numpy-2.1.0.dist-info", site / "numpy-2.1.0.dist-info")
    shutil.copytree(other / "numpy", site / "numpy", dirs_exist_ok=True)
    code, report = run_check(app)
    dup = [f for f in report["findings"] if f["id"] == "duplicate-distribution"]
    assert dup and dup[0]["subject"] == "numpy"
    assert "1.26.4" in dup[0]["message"] and "2.1.0" in dup[0]["message"]


def test_mixed_version_and_lost_dist_info(app: Path) -> None:
    site = site_packages(app / "venv")
    (site / "numpy" / "_core").mkdir()
    (site / "numpy" / "_core" / "__init__.py").write_text("# from numpy 2\n")
    shutil.rmtree(site / "safetensors-0.4.3.dist-info")
    code, report = run_check(app)
    orphans = {f["subject"]: f for f in report["findings"] if f["id"] == "orphan-files"}
    assert "safetensors" in orphans and "numpy" not in orphans
    mixed = {f["subject"]: f for f in report["findings"] if f["id"] == "mixed-version"}
    assert "numpy/_core/__init__.py" in mixed["numpy"]["message"]
    assert mixed["numpy"]["severity"] == "error" and mixed["numpy"]["details"]["unlisted"] == 1
    assert code == 1


def test_mixed_version_one_file_of_another_size(app: Path) -> None:
    # One module of another version, same name: only its size tells (no hashing needed).
    target = site_packages(app / "venv") / "einops" / "__init__.py"
    target.write_text(target.read_text() + "\n# another version\n")
    code, report = run_check(app)
    mixed = [f for f in report["findings"] if f["id"] == "mixed-version"]
    assert mixed and mixed[0]["subject"] == "einops"
    assert mixed[0]["details"]["size_differs"] == 1
    assert "einops/__init__.py" in mixed[0]["message"] and "RECORD" in mixed[0]["message"]
    assert code == 1


def test_missing_file(app: Path) -> None:
    (site_packages(app / "venv") / "einops" / "__init__.py").unlink()
    code, report = run_check(app)
    missing = [f for f in report["findings"] if f["id"] == "missing-file"]
    assert missing and missing[0]["subject"] == "einops"
    assert "einops/__init__.py" in missing[0]["message"]


def test_record_mismatch_only_with_verify_files(app: Path) -> None:
    target = site_packages(app / "venv") / "accelerate" / "__init__.py"
    target.write_text("__version__ = 'tampered'\n")
    _, report = run_check(app)
    assert "record-mismatch" not in finding_ids(report)
    code, report = run_check(app, "--verify-files")
    found = [f for f in report["findings"] if f["id"] == "record-mismatch"]
    assert found and found[0]["subject"] == "accelerate"
    assert code == 1


def test_requirement_unmet_missing_and_wrong_version(app: Path) -> None:
    (app / "requirements.txt").write_text(
        "numpy>=2  # the app moved on\n"
        "sentencepiece ; python_version >= '3.0'\n"
        "neverinstalled ; python_version < '3.0'\n"
        "--extra-index-url https://user:secret@example.invalid/simple\n"
    )
    code, report = run_check(app)
    unmet = {f["subject"]: f for f in report["findings"] if f["id"] == "requirement-unmet"}
    assert set(unmet) == {"numpy", "sentencepiece"}  # the marker excludes neverinstalled
    assert "secret" not in json.dumps(report)


def test_requirement_invalid_line(app: Path) -> None:
    (app / "requirements.txt").write_text("numpy==1.26.4\nthis is not valid\n-r missing.txt\n")
    code, report = run_check(app)
    bad = [f for f in report["findings"] if f["id"] == "requirement-invalid"]
    assert {f["subject"] for f in bad} == {"requirements.txt:2", "requirements.txt:3"}


def test_dependency_conflict_says_who_requires_what(app: Path, wheelhouse: Path) -> None:
    pip_install(app / "venv", "--no-deps", "accelerate==0.21.0", find_links=[wheelhouse])
    (app / "requirements.txt").write_text("transformers[torch]\n")
    pip_install(
        app / "venv", "--no-deps", "--force-reinstall", "packaging==24.0", find_links=[wheelhouse]
    )
    shutil.rmtree(site_packages(app / "venv") / "packaging-24.0.dist-info")
    code, report = run_check(app)
    conflicts = [f for f in report["findings"] if f["id"] == "dependency-conflict"]
    messages = " ".join(f["message"] for f in conflicts)
    assert "accelerate 0.21.0 requires packaging>=20.0, which is not installed" in messages


def test_extras_requested_by_app_are_followed(app: Path, wheelhouse: Path) -> None:
    (app / "requirements.txt").write_text("transformers[sentencepiece]\n")
    code, report = run_check(app)
    conflicts = [f for f in report["findings"] if f["id"] == "dependency-conflict"]
    assert [f["subject"] for f in conflicts] == [["sentencepiece", "=0.1.91"][0]]


def test_windows_layout_synthetic_tree(tmp_path: Path, wheelhouse: Path) -> None:
    root = tmp_path / "webui"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy==1.26.4\neinops\n")
    wheels = [wheelhouse / "numpy-1.26.4-py3-none-any.whl"]
    venv = make_windows_tree(root / "venv", wheels)
    (venv / "Lib" / "site-packages" / "~orch").mkdir()
    code, report = run_check(root)
    assert report["target"]["python"]["version"] == "3.10.6"
    assert report["target"]["python"]["executable"].endswith("python.exe")
    found = finding_ids(report)
    assert "stale-residue" in found and "requirement-unmet" in found
    assert "venv-interpreter-broken" not in found  # a foreign venv is read, not run


def test_windows_venv_dir_setting_is_honoured(tmp_path: Path, wheelhouse: Path) -> None:
    root = tmp_path / "webui"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy\n")
    (root / "webui-user.bat").write_text(
        "@echo off\nset PYTHON=\nset GIT=\nset VENV_DIR=D:\\envs\\sd\nset VENV_DIR=envs\\sd\n"
        "set COMMANDLINE_ARGS=--xformers\ncall webui.bat\n"
    )
    make_windows_tree(root / "envs" / "sd", [wheelhouse / "numpy-2.1.0-py3-none-any.whl"])
    code, report = run_check(root)
    assert report["target"]["venv"] == str(root / "envs" / "sd")
    assert "VENV_DIR" in report["target"]["sources"]["venv"]
    assert code == 0, report["findings"]
