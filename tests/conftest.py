"""Shared fixtures: a wheelhouse of real wheels, template venvs built once per session, and a
guard that keeps tests away from the real home folder and the machine's pip configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kit import build_wheel, copy_venv, make_venv, pip_install


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real home, the user's config or the machine's pip settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("WEBUI_REPAIR_MANIFESTS", raising=False)


NUMPY1_FILES = {
    "numpy/__init__.py": "__version__ = '1.26.4'\nfrom numpy.lib import stride_tricks\n",
    "numpy/lib/__init__.py": "",
    "numpy/lib/stride_tricks.py": "def broadcast_to(a, shape):\n    return a\n",
    "numpy/lib/twodim_base.py": "from numpy.lib.stride_tricks import broadcast_to\n",
}
NUMPY2_FILES = {
    "numpy/__init__.py": "__version__ = '2.1.0'\n",
    "numpy/lib/__init__.py": "",
    "numpy/lib/stride_tricks.py": "def sliding_window_view(a):\n    return a\n",
    "numpy/_core/__init__.py": "",
}


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of real wheels that the tests install with real pip."""
    d = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(d, "numpy", "1.26.4", files=NUMPY1_FILES)
    build_wheel(d, "numpy", "2.1.0", files=NUMPY2_FILES)
    build_wheel(d, "accelerate", "0.21.0", requires=["numpy>=1.17", "packaging>=20.0"])
    build_wheel(d, "accelerate", "1.2.0", requires=["numpy<3,>=1.17", "packaging>=20.0"])
    build_wheel(d, "packaging", "24.0")
    build_wheel(
        d,
        "transformers",
        "4.40.0",
        requires=["numpy>=1.17", "accelerate>=0.21.0; extra == 'torch'"],
        extras={"sentencepiece": ["sentencepiece>=0.1.91"]},
    )
    build_wheel(d, "bitsandbytes", "0.43.0", requires=["numpy"])
    build_wheel(d, "sentencepiece", "0.2.0")
    build_wheel(d, "safetensors", "0.4.3")
    build_wheel(d, "einops", "0.8.0")
    return d


@pytest.fixture(scope="session")
def template_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare venv with pip, built once per session."""
    return make_venv(tmp_path_factory.mktemp("templates") / "bare")


@pytest.fixture(scope="session")
def template_app_venv(
    tmp_path_factory: pytest.TempPathFactory, template_venv: Path, wheelhouse: Path
) -> Path:
    """A healthy venv for the test app's requirements, built once per session with real pip."""
    venv = copy_venv(template_venv, tmp_path_factory.mktemp("templates") / "app")
    pip_install(venv, *APP_REQUIREMENTS, find_links=[wheelhouse])
    return venv


APP_REQUIREMENTS = [
    "numpy==1.26.4",
    "accelerate==1.2.0",
    "transformers==4.40.0",
    "safetensors",
    "einops",
]


@pytest.fixture
def app(tmp_path: Path, template_app_venv: Path) -> Path:
    """A healthy generic install: requirements.txt and a venv that satisfies it."""
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.txt").write_text("\n".join(APP_REQUIREMENTS) + "\n")
    copy_venv(template_app_venv, root / "venv")
    return root
