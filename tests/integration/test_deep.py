"""check --deep: one subprocess in the venv's python importing the key modules, against a real
venv with real (test-built) packages, one of which fails to import."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.cli import run_check
from tests.conftest import NUMPY1_FILES
from tests.kit import build_wheel, copy_venv, pip_install

TORCH_CPU = (
    "__version__ = '2.1.2+cpu'\n"
    "from torch import version\n"
    "class cuda:\n"
    "    @staticmethod\n"
    "    def is_available():\n"
    "        return False\n"
)
TORCH_VERSION_PY = (
    "__version__ = '2.1.2+cpu'\ndebug = False\ncuda = None\n"
    "git_version = 'a8e7c98cb95ff97bb30a728c6b2a1ce6bff946eb'\nhip = None\n"
)
CV2_BROKEN = (
    "import numpy\n"
    "def _load():\n"
    "    raise ImportError('numpy.core.multiarray failed to import')\n"
    "_load()\n"
)


@pytest.fixture
def deep_app(tmp_path: Path, template_venv: Path) -> Path:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "numpy", "1.26.4", files=NUMPY1_FILES)
    build_wheel(
        wheels,
        "opencv-python",
        "4.12.0.88",
        requires=["numpy"],
        files={"cv2/__init__.py": CV2_BROKEN},
    )
    build_wheel(
        wheels,
        "accelerate",
        "1.2.0",
        requires=["numpy"],
        files={"accelerate/__init__.py": "__version__ = '1.2.0'\nimport numpy\n"},
    )
    build_wheel(
        wheels,
        "torch",
        "2.1.2+cpu",
        files={"torch/__init__.py": TORCH_CPU, "torch/version.py": TORCH_VERSION_PY},
    )
    build_wheel(
        wheels, "myextra", "1.0", files={"myextra/__init__.py": "import sys\nsys.exit(3)\n"}
    )
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy\nopencv-python\naccelerate\nmyextra\n")
    venv = copy_venv(template_venv, root / "venv")
    pip_install(
        venv, "numpy", "opencv-python", "accelerate", "myextra", "torch", find_links=[wheels]
    )
    (tmp_path / "m.toml").write_text(
        'schema = 1\nname = "deepapp"\ntitle = "Deep app"\n'
        '[deep]\nmodules = ["myextra", "gradio"]\n'
    )
    return root


@pytest.mark.slow
def test_deep_reports_the_module_that_fails(deep_app: Path, tmp_path: Path) -> None:
    code, report = run_check(deep_app, "--manifest", str(tmp_path / "m.toml"))
    assert not [f for f in report["findings"] if f["id"] == "import-failure"]  # only with --deep
    manifest = str(tmp_path / "m.toml")
    code, report = run_check(deep_app, "--deep", "--backend", "cpu", "--manifest", manifest)
    failures = {f["subject"]: f for f in report["findings"] if f["id"] == "import-failure"}
    assert set(failures) == {"cv2", "myextra"}, report["findings"]
    cv2 = failures["cv2"]
    assert cv2["details"]["error_type"] == "ImportError"
    assert "numpy.core.multiarray failed to import" in cv2["message"]
    assert cv2["details"]["last_line"].startswith("ImportError")
    assert failures["myextra"]["details"]["error_type"] == "SystemExit"
    assert code == 1
    backend = report["target"]["backend"]
    assert (backend["machine"], backend["torch"]) == ("cpu", "cpu")
    sees = backend["torch_sees"]
    assert sees["version"] == "2.1.2+cpu" and sees["cuda_available"] is False
    assert sees["cuda"] is None and sees["mps_available"] is False
    if importlib.util.find_spec("repair.diagnose") is not None:
        # With the error-signature catalogue present, the cause is named.
        assert cv2["details"]["signature"]["id"].startswith("numpy")


def test_deep_probe_timeout_is_a_finding(tmp_path: Path, template_venv: Path) -> None:
    from repair.app.target import resolve
    from repair.checks.deep import DeepError, run_probe
    from repair.context import Context
    from repair.options import CheckOptions

    root = tmp_path / "app"
    root.mkdir()
    venv = copy_venv(template_venv, root / "venv")
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "slowmod.py").write_text("import time\ntime.sleep(30)\n")
    ctx = Context(resolve(dir=str(root)), CheckOptions(deep=True))
    with pytest.raises(DeepError, match="timed out"):
        run_probe(ctx, ["slowmod"], timeout=1.0)


@pytest.mark.slow
def test_deep_groups_failures_by_first_cause_and_compares_versions(
    deep_app: Path, tmp_path: Path
) -> None:
    from tests.kit import site_packages

    site = site_packages(deep_app / "venv")
    # numpy 2's stride_tricks under numpy 1.26's __init__: numpy, cv2 and accelerate all fail on
    # numpy's first error, which is one cause, reported once.
    init = site / "numpy" / "__init__.py"
    init.write_text(init.read_text() + "from numpy.lib.stride_tricks import broadcast_to\n")
    (site / "numpy" / "lib" / "stride_tricks.py").write_text(
        "def sliding_window_view(x, shape=None):\n    return x\n"
    )
    manifest = str(tmp_path / "m.toml")
    _, report = run_check(deep_app, "--deep", "--backend", "cpu", "--manifest", manifest)
    failures = {f["subject"]: f for f in report["findings"] if f["id"] == "import-failure"}
    assert set(failures) == {"numpy", "myextra"}, report["findings"]
    numpy = failures["numpy"]
    assert set(numpy["details"]["modules"]) == {"numpy", "cv2", "accelerate"}
    assert "broadcast_to" in numpy["details"]["first_cause"]
    assert "from the same first cause" in numpy["message"]


@pytest.mark.slow
def test_deep_sees_the_loaded_version_differ_from_the_metadata(
    deep_app: Path, tmp_path: Path
) -> None:
    from tests.kit import site_packages

    site = site_packages(deep_app / "venv")
    init = site / "numpy" / "__init__.py"
    # Same size, so only the import tells: numpy 2.5's __init__ under 1.26.4's metadata.
    init.write_text(init.read_text().replace("1.26.4", "2.50.0"))
    manifest = str(tmp_path / "m.toml")
    _, report = run_check(deep_app, "--manifest", manifest)
    assert not [f for f in report["findings"] if f["id"] == "mixed-version"]
    _, report = run_check(deep_app, "--deep", "--backend", "cpu", "--manifest", manifest)
    mixed = [f for f in report["findings"] if f["id"] == "mixed-version"]
    assert mixed and mixed[0]["subject"] == "numpy"
    assert "loads version 2.50.0" in mixed[0]["message"] and "1.26.4" in mixed[0]["message"]
