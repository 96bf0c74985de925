"""Acceptance on a real venv (``-m real``): every distribution of a real A1111 venv reused in a
fresh venv, which then imports torch, numpy and transformers and passes ``pip check``; the old
venv (a copy) unchanged, also after pip reinstalls a linked package in the new one.

``WEBUI_REPAIR_REAL_A1111`` names an A1111 folder whose ``venv`` was built from the package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from repair.env.dists import scan_site
from repair.env.layout import read_pyvenv_cfg
from repair.rebuild.reuse import _layout, reuse_distributions

pytestmark = pytest.mark.real


def _stat_digest(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.join(dirpath, name)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def test_reuse_a_real_a1111_venv(tmp_path: Path) -> None:
    app = os.environ.get("WEBUI_REPAIR_REAL_A1111")
    if not app or not (Path(app) / "venv").is_dir():
        pytest.skip("WEBUI_REPAIR_REAL_A1111 names no A1111 folder with a venv")
    old = tmp_path / "old"
    shutil.copytree(Path(app) / "venv", old, symlinks=True)
    cfg = read_pyvenv_cfg(old / "pyvenv.cfg")
    assert cfg.home and cfg.version
    python = Path(cfg.home) / f"python{'.'.join(cfg.version.split('.')[:2])}"
    before = _stat_digest(old)
    keep = sorted((d.name, d.version) for d in scan_site(_layout(old).site).installed().values())
    new = tmp_path / "new"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(new)], check=True)
    start = time.perf_counter()
    result = reuse_distributions(old, new, keep)
    took = time.perf_counter() - start
    assert result.left_to_install == [], result.reasons
    assert len(result.reused) == len(keep) and took < 120
    py = str(new / "bin" / "python")
    subprocess.run([py, "-c", "import torch, numpy, transformers"], check=True, timeout=600)
    check = subprocess.run([py, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    small = next(name for name, _ in keep if name.lower() in ("six", "idna", "filelock"))
    version = dict(keep)[small]
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", f"{small}=={version}"],
        check=True,
        timeout=600,
    )
    assert _stat_digest(old) == before
