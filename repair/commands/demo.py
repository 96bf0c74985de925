"""``repair demo``: a throwaway install, broken the way the field notes describe, then checked
(and repaired, where the pipeline is available), with narration. Offline: its own tiny wheels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repair import proc
from repair.app.target import resolve
from repair.checks.runner import check
from repair.context import Context
from repair.env.layout import VenvLayout
from repair.env.wheelkit import build_wheel, unpack_wheel
from repair.errors import RepairError
from repair.model import Report
from repair.options import IndexOptions, RepairOptions
from repair.progress import Reporter
from repair.rebuild.build import virtualenv_args
from repair.transaction.pipeline import repair_install

NUMPY1 = {
    "numpy/__init__.py": "__version__ = '1.26.4'\n",
    "numpy/lib/__init__.py": "",
    "numpy/lib/stride_tricks.py": "def broadcast_to(array, shape):\n    return array\n",
    "numpy/lib/twodim_base.py": "from numpy.lib.stride_tricks import broadcast_to\n",
}
NUMPY2 = {
    "numpy/__init__.py": "__version__ = '2.1.0'\n",
    "numpy/lib/__init__.py": "",
    "numpy/lib/stride_tricks.py": "def sliding_window_view(array):\n    return array\n",
    "numpy/_core/__init__.py": "",
}
REQUIREMENTS = """\
# The demo web UI's requirements (a small stand-in for requirements_versions.txt)
numpy==1.26.4
accelerate>=0.26
transformers==4.40.0
safetensors
einops
"""


@dataclass
class DemoResult:
    root: Path
    before: Report
    after: Report | None = None
    exit_code: int = 0
    kept: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _isolated_pip_env(wheels: Path) -> dict[str, str]:
    """The demo never reads the user's pip configuration and never touches the network."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_NO_CACHE_DIR="1",
    )
    return env


def build_broken_install(root: Path, reporter: Reporter) -> Path:
    """The throwaway web UI: wheels, a venv, the requirements, and four breakages."""

    wheels = root / "wheels"
    app = root / "webui"
    app.mkdir(parents=True)
    reporter.step("Building the demo's own wheels (no network needed)")
    build_wheel(wheels, "numpy", "1.26.4", files=NUMPY1)
    build_wheel(wheels, "numpy", "2.1.0", files=NUMPY2)
    build_wheel(wheels, "accelerate", "0.21.0", requires=["numpy>=1.17"])
    build_wheel(wheels, "accelerate", "0.30.1", requires=["numpy>=1.17"])
    build_wheel(wheels, "transformers", "4.40.0", requires=["numpy>=1.17", "accelerate>=0.26"])
    build_wheel(wheels, "safetensors", "0.4.3")
    build_wheel(wheels, "einops", "0.8.0")
    (app / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
    (app / "models").mkdir()
    (app / "models" / "README.txt").write_text("Your models would live here.\n")

    reporter.step("Creating the web UI's venv with virtualenv")
    venv = app / "venv"
    env = _isolated_pip_env(wheels)

    proc.run(virtualenv_args(sys.executable, venv), env=env, timeout=300, check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    reporter.step("Installing its requirements with pip, from the demo's wheels")
    proc.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "numpy==1.26.4",
            "accelerate==0.30.1",
            "transformers==4.40.0",
            "safetensors",
            "einops",
        ],
        env=env,
        timeout=300,
        check=True,
    )

    site = VenvLayout.detect(venv).site_packages()
    reporter.step("Breaking it the way real installs break")
    reporter.info(
        "1. numpy 2.1.0 unpacked over numpy 1.26.4: an upgrade killed halfway "
        "(\"cannot import name 'broadcast_to'\")"
    )
    unpack_wheel(wheels / "numpy-2.1.0-py3-none-any.whl", site)
    reporter.info("2. a '~umpy' folder: pip's leftover when a running UI held a file open")
    shutil.copytree(site / "numpy", site / "~umpy")
    reporter.info("3. einops uninstalled: a requirement that is missing")
    proc.run(
        [python, "-m", "pip", "uninstall", "-q", "-y", "einops"], env=env, timeout=120, check=True
    )
    reporter.info("4. accelerate downgraded to 0.21.0 by an extension: transformers needs >=0.26")
    proc.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "accelerate==0.21.0"],
        env=env,
        timeout=120,
        check=True,
    )
    return app


def run_demo(
    reporter: Reporter,
    *,
    where: Path | None = None,
    keep: bool = False,
    repair: bool = True,
    on_report: Callable[[str, Report], None] | None = None,
) -> DemoResult:
    """Build, check and (with ``repair``) repair the demo install. ``on_report(stage, report)``
    is called with each report as soon as it exists (stage ``before`` or ``after``)."""

    root = Path(tempfile.mkdtemp(prefix="webui-repair-demo-", dir=where))
    try:
        app = build_broken_install(root, reporter)
        reporter.step("Checking it: repair check")
        ctx = Context(resolve(str(app)), reporter=reporter)
        before = check(ctx)
        result = DemoResult(root=root, before=before, kept=keep)
        if on_report:
            on_report("before", before)
        if repair:
            _repair(app, result, reporter)
            if on_report and result.after is not None:
                on_report("after", result.after)
        return result
    except (OSError, subprocess.SubprocessError, RepairError) as exc:
        keep = True
        raise RepairError(
            f"the demo could not build its install: {exc}", hint=f"its files are kept in {root}"
        ) from exc
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _repair(app: Path, result: DemoResult, reporter: Reporter) -> None:
    """Repair with the pipeline, from the demo's own wheels only."""

    reporter.step("Repairing it: repair --yes")
    wheels = app.parent / "wheels"
    options = RepairOptions(yes=True, index=IndexOptions(find_links=(str(wheels),), offline=True))
    old = {k: os.environ.get(k) for k in ("PIP_CONFIG_FILE", "PIP_NO_INDEX", "PIP_FIND_LINKS")}
    os.environ.update(_isolated_pip_env(wheels))
    try:
        outcome = repair_install(Context(resolve(str(app)), options, reporter))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    result.exit_code = outcome.exit_code
    reporter.step("Checking it again: repair check")

    result.after = check(Context(resolve(str(app)), reporter=reporter))
