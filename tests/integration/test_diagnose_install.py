"""``repair diagnose --dir`` and ``check --log``: each cause tied to the install (the distribution
that owns the module, its version, who asks for which) with the remedy for that install."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import invoke, run_check

LOG = """\
Traceback (most recent call last):
  File "/x/ComfyUI/custom_nodes/foo-node/__init__.py", line 3, in <module>
    import requests
ModuleNotFoundError: No module named 'requests'
Cannot import /x/ComfyUI/custom_nodes/foo-node module for custom nodes: No module named 'requests'
ModuleNotFoundError: No module named 'kornia'
AttributeError: module 'numpy' has no attribute 'float'
ImportError: transformers>=9.0 is required for a normal functioning of this module, but \
found transformers==4.40.0.
torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB
"""


def _diagnose(app: Path, tmp_path: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    log = tmp_path / "comfy.log"
    log.write_text(LOG, encoding="utf-8")
    result = invoke("diagnose", "--json", "--dir", str(app), *args, str(log))
    return result.exit_code, json.loads(result.stdout)


def _by_subject(report: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    out = {}
    for cause in report["causes"]:
        names = cause.get("names", {})
        out[names.get("module") or names.get("req") or cause["ids"][0]] = cause
    return out


def test_each_cause_names_the_distribution_and_the_remedy_for_this_install(
    app: Path, tmp_path: Path
) -> None:
    node = app / "custom_nodes" / "foo-node"
    node.mkdir(parents=True)
    (node / "requirements.txt").write_text("kornia>=0.7\n", encoding="utf-8")
    code, report = _diagnose(app, tmp_path, "--manifest", "comfyui")
    assert code == 1
    causes = _by_subject(report)
    # A module nobody declares: named as such; a rebuild will not bring it.
    requests = causes["requests"]
    assert requests["environment"]["declared"] is False
    assert requests["environment"]["node"] == "foo-node"
    assert requests["rebuild_helps"] == "no" and requests["command"] is None
    assert "no requirement file" in requests["cause"] and "foo-node" in requests["remedy"]
    # Declared by a node's requirements, not installed: plain repair installs it.
    kornia = causes["kornia"]
    assert kornia["environment"]["installed"] is False
    assert kornia["environment"]["wanted"][0].startswith("foo-node/requirements.txt:1")
    assert kornia["command"] == "repair"
    # Installed at the version the app pins: the code that uses it must move, not the venv.
    numpy = causes["numpy"]
    assert numpy["environment"]["version"] == "1.26.4"
    assert numpy["command"] is None and numpy["rebuild_helps"] == "no"
    # A version requirement the app's pin does not meet: the owner, its version, the pin.
    transformers = causes["transformers"]
    assert transformers["environment"]["version"] == "4.40.0"
    # Out of memory: ComfyUI's flag and launchers, never A1111's webui-user.
    oom = next(c for c in report["causes"] if c["ids"][0] == "cuda-out-of-memory")
    assert "--lowvram" in oom["remedy"] and "run_nvidia_gpu.bat" in oom["remedy"]
    assert "webui-user" not in oom["remedy"] and "--medvram" not in oom["remedy"]
    assert oom["rebuild_helps"] == "no"
    assert "--clean-venv" not in json.dumps(report)


def test_a1111_flags_go_to_webui_user(app: Path, tmp_path: Path) -> None:
    _, report = _diagnose(app, tmp_path, "--manifest", "a1111")
    oom = next(c for c in report["causes"] if c["ids"][0] == "cuda-out-of-memory")
    assert "--medvram" in oom["remedy"] and "COMMANDLINE_ARGS in webui-user.bat" in oom["remedy"]


def test_check_log_ties_findings_to_the_install(app: Path, tmp_path: Path) -> None:
    log = tmp_path / "comfy.log"
    log.write_text(LOG, encoding="utf-8")
    code, report = run_check(app, "--log", str(log))
    found = {f["subject"]: f for f in report["findings"] if f["id"] == "log-signature"}
    assert found["requests"]["details"]["environment"]["declared"] is False
    assert found["numpy-removed-alias"]["details"]["environment"]["version"] == "1.26.4"
    assert code == 1


def test_a_bad_dir_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("ok\n", encoding="utf-8")
    result = invoke("diagnose", "--dir", str(tmp_path / "nope"), str(log))
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_a_mixed_numpy_is_plain_repair_never_clean_venv(app: Path, tmp_path: Path) -> None:
    site = next((app / "venv").glob("lib/python3*/site-packages"))
    extra = site / "numpy-2.0.0.dist-info"
    extra.mkdir()
    (extra / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: numpy\nVersion: 2.0.0\n", encoding="utf-8"
    )
    log = tmp_path / "webui.log"
    log.write_text(
        "ImportError: cannot import name 'broadcast_to' from 'numpy.lib.stride_tricks' "
        f"({site}/numpy/lib/stride_tricks.py)\n",
        encoding="utf-8",
    )
    result = invoke("diagnose", "--json", "--dir", str(app), str(log))
    [cause] = json.loads(result.stdout)["causes"]
    assert cause["environment"]["mixed"] is True
    assert cause["environment"]["distribution"] == "numpy"
    assert cause["command"] == "repair" and cause["rebuild_helps"] == "yes"
    assert "--clean-venv" not in result.stdout
