"""The repair pipeline end to end on real venvs, real wheels and real pip (offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from repair.app.target import resolve
from repair.backup.store import list_backups
from repair.cli import cli
from repair.transaction.journal import install_lock
from tests.conftest import NUMPY2_FILES
from tests.kit import site_packages, tree_digest, venv_python


class Outcome:
    """A CLI run as the console script ends it: a RepairError is its exit code and one line."""

    def __init__(self, args: list[str]) -> None:
        from repair.errors import RepairError

        result = CliRunner().invoke(cli, args)
        self.stdout, self.stderr, self.exit_code = result.stdout, result.stderr, result.exit_code
        exc = result.exception
        if isinstance(exc, RepairError):
            self.exit_code = exc.exit_code
            self.stderr += f"repair: error: {exc.message}\n"
            self.stderr += f"hint: {exc.hint}\n" if exc.hint else ""
        else:
            assert exc is None or isinstance(exc, SystemExit), (result.output, exc)
        self.output = self.stdout + self.stderr


def invoke(args: list[str]) -> Outcome:
    return Outcome(args)


def run_repair(app: Path, wheelhouse: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = invoke(["--json", "--yes", "--dir", str(app), "--find-links", str(wheelhouse), *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def ids(report: dict[str, Any]) -> list[str]:
    return [f["id"] for f in report["findings"]]


def user_data(app: Path) -> Path:
    models = app / "models" / "Stable-diffusion"
    models.mkdir(parents=True)
    (models / "model.safetensors").write_bytes(b"weights" * 100)
    (app / "config.json").write_text('{"sd_model": "model.safetensors"}')
    return models / "model.safetensors"


def test_dry_run_prints_the_plan_and_changes_nothing(app: Path, wheelhouse: Path) -> None:
    (app / "requirements.txt").write_text("numpy==1.26.4\nbitsandbytes\n")
    before = tree_digest(app)
    code, report = run_repair(app, wheelhouse, "--dry-run")
    assert code == 1
    assert [s["kind"] for s in report["plan"]] == ["install-requirements"]
    assert report["steps"] == [] and report["backup"] is None
    assert tree_digest(app) == before


def test_healthy_install_is_left_alone(app: Path, wheelhouse: Path) -> None:
    code, report = run_repair(app, wheelhouse)
    assert code == 0 and report["plan"] == [] and report["summary"]["healthy"]
    assert list_backups(resolve(str(app))) == []


@pytest.mark.slow
def test_clean_venv_on_a_broken_venv(app: Path, wheelhouse: Path) -> None:
    """The issue's 'done when': healthy venv, old one kept as a backup, user data untouched."""
    model = user_data(app)
    data_before = tree_digest(app / "models")
    cfg = app / "venv" / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace("home = ", "home = /nonexistent"))
    old = tree_digest(app / "venv")
    code, report = run_repair(app, wheelhouse, "--clean-venv")
    assert code == 0, report
    assert report["summary"]["healthy"] and report["findings"] == []
    assert [s["status"] for s in report["steps"]] == ["done", "done"]
    backups = list_backups(resolve(str(app)))
    assert len(backups) == 1 and backups[0].id == report["backup"]
    assert backups[0].kind == "moved" and tree_digest(backups[0].venv_path) == old
    snapshot = json.loads(backups[0].snapshot_path.read_text())
    assert snapshot["schema"] == "repair.snapshot/1"
    assert {d["name"]: d["version"] for d in snapshot["distributions"]}["numpy"] == "1.26.4"
    assert tree_digest(app / "models") == data_before and model.exists()
    assert not (app / "venv" / ".webui-repair-partial").exists()
    # pip installs without compiling (as uv does): Python writes the bytecode on first import.
    assert not list((site_packages(app / "venv") / "numpy").rglob("*.pyc"))


def test_mixed_numpy_is_repaired_without_a_new_venv(
    app: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    site = site_packages(app / "venv")
    # numpy 2's files poured over numpy 1 (an interrupted upgrade): orphan files inside numpy/.
    (site / "numpy" / "_core").mkdir()
    (site / "numpy" / "_core" / "__init__.py").write_text("")
    stride = "numpy/lib/stride_tricks.py"
    (site / stride).write_text(NUMPY2_FILES[stride])
    pyvenv_before = (app / "venv" / "pyvenv.cfg").read_text()
    code, report = run_repair(app, wheelhouse)
    assert code == 0, report
    assert [s["kind"] for s in report["plan"]] == ["purge", "reinstall"]
    assert not (site / "numpy" / "_core").exists()
    assert "broadcast_to" in (site / "numpy" / "lib" / "stride_tricks.py").read_text()
    assert (app / "venv" / "pyvenv.cfg").read_text() == pyvenv_before


def test_one_module_of_another_version_is_repaired(app: Path, wheelhouse: Path) -> None:
    # Only numpy/lib/stride_tricks.py of numpy 2: nothing but its size tells.
    site = site_packages(app / "venv")
    stride = "numpy/lib/stride_tricks.py"
    (site / stride).write_text("def sliding_window_view(x, shape=None):\n    return x\n")
    code, report = run_repair(app, wheelhouse, "--dry-run")
    assert code == 1 and "mixed-version" in ids(report)
    code, report = run_repair(app, wheelhouse)
    assert code == 0, report
    assert "broadcast_to" in (site / stride).read_text()
    assert ids(report) == []


def test_repair_verify_files_passes_through(app: Path, wheelhouse: Path) -> None:
    # Same size, other content: only the hash tells, and only with --verify-files.
    target = site_packages(app / "venv") / "numpy" / "lib" / "stride_tricks.py"
    text = target.read_text()
    target.write_text(text.replace("return a", "return b"))
    code, report = run_repair(app, wheelhouse)
    assert code == 0 and report["plan"] == []
    code, report = run_repair(app, wheelhouse, "--verify-files")
    assert code == 0, report
    assert [s["kind"] for s in report["plan"]] == ["reinstall"]
    assert target.read_text() == text


def test_failure_mid_install_rolls_back_to_a_byte_identical_venv(
    app: Path, wheelhouse: Path
) -> None:
    site = site_packages(app / "venv")
    (site / "einops" / "__init__.py").unlink()  # missing-file: einops gets reinstalled first ...
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text() + "not-on-any-index==9.9\n"
    )  # ... then this fails
    before = tree_digest(app / "venv")
    code, report = run_repair(app, wheelhouse)
    assert code == 4, report
    assert "rolled back" in report["error"]
    statuses = {s["kind"]: s["status"] for s in report["steps"]}
    assert statuses == {"reinstall": "done", "install-requirements": "failed"}
    assert tree_digest(app / "venv") == before
    backup = list_backups(resolve(str(app)))[0]
    assert not backup.has_venv  # its venv went back into place
    log = (backup.path / "logs" / "install.log").read_text()
    assert "not-on-any-index" in log


def test_two_runs_at_once_exit_6(app: Path, wheelhouse: Path) -> None:
    with install_lock(resolve(str(app))):
        result = invoke(["--yes", "--clean-venv", "--dir", str(app)])
    assert result.exit_code == 6
    assert "another repair is running" in result.stderr


def test_two_processes_at_once(app: Path, wheelhouse: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from repair.transaction.journal import install_lock\n"
            "from repair.app.target import resolve\n"
            "with install_lock(resolve(sys.argv[1])):\n"
            " print('locked', flush=True); time.sleep(30)",
            str(app),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = invoke(["--yes", "--dir", str(app)])
        assert result.exit_code == 6
    finally:
        holder.kill()
        holder.wait()


def _sleeper(venv: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(venv_python(venv)), "-c", "import time; time.sleep(60)"])
    time.sleep(0.3)
    return proc


def test_refuses_while_the_app_runs_and_the_plan_replaces_files(
    app: Path, wheelhouse: Path
) -> None:
    app_proc = _sleeper(app / "venv")
    try:
        before = tree_digest(app / "venv")
        result = invoke(["--yes", "--clean-venv", "--dir", str(app)])
        assert result.exit_code == 6, result.output
        assert f"pid {app_proc.pid}" in result.stderr
        assert tree_digest(app / "venv") == before
    finally:
        app_proc.kill()
        app_proc.wait()


def test_packages_added_under_a_running_app_exit_3(app: Path, wheelhouse: Path) -> None:
    (app / "requirements.txt").write_text(
        (app / "requirements.txt").read_text() + "bitsandbytes==0.43.0\n"
    )
    app_proc = _sleeper(app / "venv")
    time.sleep(1.1)  # file times have a 1 s resolution on some filesystems
    try:
        code, report = run_repair(app, wheelhouse)
        assert code == 3, report
        found = [f for f in report["findings"] if f["id"] == "restart-required"]
        assert found and f"pid {app_proc.pid}" in found[0]["subject"]
        assert "bitsandbytes" in found[0]["message"]
        assert report["restart_required"] is True
    finally:
        app_proc.kill()
        app_proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux start-time precision")
def test_restart_only_for_what_changed_after_the_start(app: Path) -> None:
    # Start times are precise to a second on Linux: an install that ended just before the start
    # is no reason to restart; one well after it is.
    import psutil

    app_proc = _sleeper(app / "venv")
    try:
        started = psutil.Process(app_proc.pid).create_time()
        dist = site_packages(app / "venv") / "einops-0.8.0.dist-info"
        os.utime(dist, (started + 0.5, started + 0.5))
        result = invoke(["check", "--json", "--dir", str(app)])
        assert "restart-required" not in ids(json.loads(result.stdout))
        os.utime(dist, (started + 5, started + 5))
        result = invoke(["check", "--json", "--dir", str(app)])
        found = [f for f in json.loads(result.stdout)["findings"] if f["id"] == "restart-required"]
        assert found and found[0]["details"]["packages"] == ["einops"]
    finally:
        app_proc.kill()
        app_proc.wait()


def test_refuses_the_venv_the_tool_runs_from(
    app: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real check compares with sys.prefix; here the test venv stands in for it."""
    from repair import fsops

    monkeypatch.setattr(fsops, "running_prefixes", lambda: [Path(os.path.realpath(app / "venv"))])
    before = tree_digest(app / "venv")
    result = invoke(["--yes", "--clean-venv", "--dir", str(app)])
    assert result.exit_code == 2
    assert "runs from it" in result.stderr and "outside" in result.stderr
    assert tree_digest(app / "venv") == before


def test_refuses_a_venv_option_that_is_not_a_venv(app: Path, wheelhouse: Path) -> None:
    for target in (app, app / "models"):
        target.mkdir(exist_ok=True)
        before = tree_digest(app)
        result = invoke(["--yes", "--clean-venv", "--dir", str(app), "--venv", str(target)])
        assert result.exit_code == 2, result.output
        assert tree_digest(app) == before


def test_missing_venv_is_created(tmp_path: Path, wheelhouse: Path) -> None:
    (tmp_path / "requirements.txt").write_text("einops==0.8.0\n")
    code, report = run_repair(tmp_path, wheelhouse, "--python", sys.executable)
    assert code == 0, report
    assert (site_packages(tmp_path / "venv") / "einops").is_dir()


def test_no_suitable_python_names_what_was_found(
    tmp_path: Path, app: Path, wheelhouse: Path
) -> None:
    manifest = tmp_path / "a1111.toml"
    manifest.write_text(
        'schema = 1\nname = "old"\ntitle = "Old app"\n'
        '[python]\nsupported = ">=3.10.6,<3.10.7"\nrecommended = "3.10.6"\n'
    )
    before = tree_digest(app / "venv")
    result = invoke(
        [
            "--yes",
            "--clean-venv",
            "--dir",
            str(app),
            "--find-links",
            str(wheelhouse),
            "--manifest",
            str(manifest),
        ]
    )
    # The Python is chosen when the plan is made: refused before anything changes.
    assert result.exit_code == 2, result.output
    assert "Python 3.10.6" in result.stderr and "found:" in result.stderr
    assert tree_digest(app / "venv") == before


def test_preflight_refuses_a_rebuild_that_cannot_finish(app: Path, wheelhouse: Path) -> None:
    (app / "requirements.txt").write_text("numpy==1.26.4\nnot-on-any-index==9.9\n")
    before = tree_digest(app / "venv")
    result = invoke(["--yes", "--clean-venv", "--dir", str(app), "--find-links", str(wheelhouse)])
    assert result.exit_code == 1, result.output
    assert "not-on-any-index" in result.stderr and "--force" in result.stderr
    assert tree_digest(app / "venv") == before
    assert not (app / ".repair-backups").exists() or not list_backups(resolve(str(app)))


def test_without_a_terminal_and_without_yes_nothing_is_changed(app: Path) -> None:
    before = tree_digest(app / "venv")
    result = invoke(["--clean-venv", "--dir", str(app)])  # CliRunner's stdin is no terminal
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert tree_digest(app / "venv") == before
    dry = invoke(["--dry-run", "--dir", str(app)])
    assert dry.exit_code == 0 and "Nothing to do." in dry.stdout


def test_a_venv_of_another_os_is_checked_but_never_changed(
    tmp_path: Path, wheelhouse: Path
) -> None:
    from tests.kit import make_windows_tree

    root = tmp_path / "webui"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy==1.26.4\neinops\n")
    foreign = make_windows_tree(root / "venv", [wheelhouse / "numpy-1.26.4-py3-none-any.whl"])
    if os.name == "nt":
        pytest.skip("a Windows venv is not foreign on Windows")
    before = tree_digest(foreign)
    result = invoke(["--yes", "--dir", str(root), "--find-links", str(wheelhouse)])
    assert result.exit_code == 2 and "cannot run on this machine" in result.stderr
    assert tree_digest(foreign) == before
    assert list_backups(resolve(str(root))) == []
