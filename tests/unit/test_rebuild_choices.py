"""The rebuild's choices: which Python, which torch index, which pin for a distribution."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repair.app import manifest as manifests
from repair.app.manifest import parse_manifest
from repair.env.pythons import PythonInfo
from repair.errors import UsageError
from repair.rebuild.python import choose_python
from repair.rebuild.torch import index_for_build, manifest_torch
from repair.rebuild.workingset import pin_line

FOUND = [
    PythonInfo(Path("/py/3.13/bin/python3"), "3.13.0"),
    PythonInfo(Path("/py/3.12/bin/python3"), "3.12.1"),
    PythonInfo(Path("/py/3.11/bin/python3"), "3.11.7"),
    PythonInfo(Path("/py/3.10/bin/python3"), "3.10.13"),
]


def app(supported: str = ">=3.9", recommended: str = "3.12") -> manifests.Manifest:
    return parse_manifest(
        f'schema = 1\nname = "x"\ntitle = "X"\n[python]\nsupported = '
        f'"{supported}"\nrecommended = "{recommended}"\n',
        "test",
    )


def test_the_old_venvs_own_interpreter_first() -> None:
    here = ".".join(map(str, sys.version_info[:3]))
    choice = choose_python(
        app(), requested=None, old_version=here, old_interpreter=Path(sys.executable), found=FOUND
    )
    assert choice.path == sys.executable and choice.reason == "the old venv's own interpreter"


def test_the_same_minor_when_the_interpreter_is_gone_never_the_newest() -> None:
    choice = choose_python(
        app(), requested=None, old_version="3.11.4", old_interpreter=None, found=FOUND
    )
    assert choice.version == "3.11.7" and "its own interpreter is gone" in choice.reason


def test_another_minor_only_with_a_reason() -> None:
    choice = choose_python(
        app(">=3.10,<3.12", "3.10"),
        requested=None,
        old_version="3.12.1",
        old_interpreter=None,
        found=FOUND,
    )
    assert choice.version == "3.10.13" and "not supported" in choice.reason
    choice = choose_python(
        app(), requested=None, old_version="3.9.1", old_interpreter=None, found=FOUND
    )
    assert choice.version == "3.12.1" and "no Python 3.9" in choice.reason
    choice = choose_python(
        app(), requested="3.13", old_version="3.11.4", old_interpreter=None, found=FOUND
    )
    assert choice.version == "3.13.0" and "old venv was Python 3.11.4" in choice.reason


def test_the_index_that_serves_a_build() -> None:
    a1111 = manifests.load("a1111")
    assert index_for_build(a1111, "cuda", "cu121") == "https://download.pytorch.org/whl/cu121"
    # The manifest's cuda index names another CUDA version: PyTorch's index for the tag.
    assert index_for_build(a1111, "cuda", "cu118") == "https://download.pytorch.org/whl/cu118"
    mirror = parse_manifest(
        'schema = 1\nname = "x"\ntitle = "X"\n[torch.cuda]\npackages = '
        '["torch"]\nindex_url = "https://mirror.example/simple"\n',
        "test",
    )
    assert index_for_build(mirror, "cuda", "cu121") == "https://mirror.example/simple"


def test_one_reader_of_the_torch_table() -> None:
    a1111 = manifests.load("a1111")
    spec = manifest_torch(a1111, "cuda")
    assert spec == {
        "packages": ["torch==2.1.2", "torchvision==0.16.2"],
        "index_url": "https://download.pytorch.org/whl/cu121",
        "extra_index_url": None,
    }
    with pytest.raises(UsageError, match="no torch for the backend 'quantum'"):
        manifest_torch(a1111, "quantum")
    assert manifest_torch(manifests.load("generic"), "cuda") is None


def test_pins_bring_back_where_a_distribution_came_from() -> None:
    assert pin_line("numpy", "1.26.4", {"type": "index"}) == "numpy==1.26.4"
    assert (
        pin_line(
            "clip",
            "1.0",
            {"type": "vcs", "vcs": "git", "url": "https://x/clip.git", "commit": "abc"},
        )
        == "clip @ git+https://x/clip.git@abc"
    )
    assert (
        pin_line("mine", "0.1", {"type": "editable", "url": "file:///src/mine"})
        == "-e file:///src/mine"
    )
    assert (
        pin_line("w", "1", {"type": "direct", "url": "https://x/w-1.whl"})
        == "w @ https://x/w-1.whl"
    )
    assert pin_line("s", "1", {"type": "vcs", "url": "https://****@x/s.git"}) == "s==1"


def test_a_venv_whose_setuptools_comes_back_from_the_old_one_is_seeded_with_pip_alone(
    tmp_path: Path,
) -> None:
    from repair.rebuild.build import virtualenv_args

    seeded = virtualenv_args("python3", tmp_path / "venv")
    alone = virtualenv_args("python3", tmp_path / "venv", setuptools=False)
    assert "--no-setuptools" not in seeded
    assert "--no-setuptools" in alone and "--no-pip" not in alone
    # Whatever else, nothing is written beside the venv.
    assert "--no-vcs-ignore" in alone
