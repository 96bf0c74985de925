"""Custom nodes' requirements as part of the install: a ComfyUI-shaped app whose nodes were
installed the way ComfyUI-Manager installs them (one ``pip install -r`` per node), with real
wheels and real pip. Nodes that agree, two nodes that conflict, a node against the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import finding_ids, invoke, run_check
from tests.kit import build_wheel, copy_venv, pip_install, site_packages

APP_REQUIREMENTS = "numpy>=1.25.0\ntransformers>=4.37.2\nsafetensors\n"
NODES = {
    # agrees with everything
    "ComfyUI-Agreeable": "einops\nsafetensors>=0.4\n",
    # the face-swap node: numpy==1.26.4
    "ComfyUI-FaceSwap": "numpy==1.26.4\nonnx\n",
    # a later node that wants numpy 2: conflicts with FaceSwap
    "ComfyUI-NumpyTwo": "numpy>=2\n",
    # an old inpainting node: transformers below the app's floor
    "ComfyUI-OldInpaint": "transformers==4.30.0\n",
}


@pytest.fixture(scope="module")
def node_wheels(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    d = tmp_path_factory.mktemp("nodewheels")
    for wheel in wheelhouse.glob("*.whl"):
        (d / wheel.name).write_bytes(wheel.read_bytes())
    build_wheel(d, "transformers", "4.30.0", requires=["numpy>=1.17"])
    build_wheel(d, "transformers", "5.0.0", requires=["numpy>=1.17"])
    build_wheel(d, "onnx", "1.16.0", requires=["numpy>=1.20"])
    build_wheel(d, "torch", "2.1.2", requires=["numpy"])
    build_wheel(d, "torch", "2.5.0", requires=["numpy"])
    # a node's dependency whose newest release wants numpy 2; the older one fits numpy 1
    build_wheel(d, "facetool", "1.0", requires=["numpy<2"])
    build_wheel(d, "facetool", "2.0", requires=["numpy>=2"])
    return d


def comfy_app(root: Path, nodes: dict[str, str]) -> Path:
    root.mkdir()
    (root / "main.py").write_text("print('ComfyUI')\n")
    (root / "comfy").mkdir()
    (root / "comfy" / "model_management.py").write_text("")
    (root / "nodes.py").write_text("")
    (root / "requirements.txt").write_text(APP_REQUIREMENTS)
    for name, reqs in nodes.items():
        folder = root / "custom_nodes" / name
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "requirements.txt").write_text(reqs)
    return root


@pytest.fixture(scope="module")
def comfy_venv(
    tmp_path_factory: pytest.TempPathFactory, template_venv: Path, node_wheels: Path
) -> Path:
    """ComfyUI's requirements, then each node's, one pip run per node, as ComfyUI-Manager does:
    the later node moves numpy to 2, the old inpainting node moves transformers down."""
    venv = copy_venv(template_venv, tmp_path_factory.mktemp("comfy") / "venv")
    reqs = tmp_path_factory.mktemp("reqs")
    (reqs / "app.txt").write_text(APP_REQUIREMENTS)
    pip_install(venv, "torch==2.1.2", "-r", str(reqs / "app.txt"), find_links=[node_wheels])
    for name, text in NODES.items():
        (reqs / f"{name}.txt").write_text(text)
        pip_install(venv, "-r", str(reqs / f"{name}.txt"), find_links=[node_wheels])
    return venv


def _installed(venv: Path) -> dict[str, str]:
    out = {}
    for meta in site_packages(venv).glob("*.dist-info"):
        name, _, version = meta.name[: -len(".dist-info")].partition("-")
        out[name.lower()] = version
    return out


def _by_id(report: dict[str, Any], fid: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == fid]


def test_nodes_that_agree_are_healthy(
    tmp_path: Path, template_venv: Path, node_wheels: Path
) -> None:
    app = comfy_app(tmp_path / "ComfyUI", {"ComfyUI-Agreeable": NODES["ComfyUI-Agreeable"]})
    venv = copy_venv(template_venv, app / "venv")
    pip_install(venv, "-r", str(app / "requirements.txt"), find_links=[node_wheels])
    code, report = run_check(app)
    assert report["target"]["manifest"] == "comfyui"
    unmet = _by_id(report, "requirement-unmet")
    assert [f["subject"] for f in unmet] == ["einops"]
    assert unmet[0]["details"]["requested_by"] == "custom node ComfyUI-Agreeable"
    assert (
        "custom node ComfyUI-Agreeable (custom_nodes/ComfyUI-Agreeable/requirements.txt:1)"
        in unmet[0]["message"]
    )
    pip_install(
        venv,
        "-r",
        str(app / "custom_nodes/ComfyUI-Agreeable/requirements.txt"),
        find_links=[node_wheels],
    )
    code, report = run_check(app)
    assert finding_ids(report) == ["repo-missing"] and code == 0  # a warning: no .git


def test_check_names_each_broken_node(tmp_path: Path, comfy_venv: Path) -> None:
    app = comfy_app(tmp_path / "ComfyUI", NODES)
    copy_venv(comfy_venv, app / "venv")
    assert _installed(app / "venv")["numpy"] == "2.1.0"
    assert _installed(app / "venv")["transformers"] == "4.30.0"
    code, report = run_check(app)
    assert code == 1
    unmet = {
        (f["subject"], f["details"]["requested_by"]) for f in _by_id(report, "requirement-unmet")
    }
    assert unmet == {("numpy", "custom node ComfyUI-FaceSwap"), ("transformers", None)}
    conflicts = _by_id(report, "requirement-conflict")
    sides = {
        (f["subject"], f["details"]["sources"][0]["who"], f["details"]["sources"][1]["who"])
        for f in conflicts
    }
    assert sides == {
        ("numpy", "custom node ComfyUI-FaceSwap", "custom node ComfyUI-NumpyTwo"),
        ("transformers", "ComfyUI", "custom node ComfyUI-OldInpaint"),
    }
    old = next(f for f in conflicts if f["subject"] == "transformers")
    assert "transformers>=4.37.2" in old["message"] and "transformers==4.30.0" in old["message"]
    assert "custom_nodes/.disabled" in old["remedy"]
    assert old["details"]["left_out"] == "custom node ComfyUI-OldInpaint"


def test_plan_installs_what_fits_and_leaves_out_the_rest(
    tmp_path: Path, comfy_venv: Path, node_wheels: Path
) -> None:
    app = comfy_app(tmp_path / "ComfyUI", NODES)
    copy_venv(comfy_venv, app / "venv")
    result = invoke("--json", "--dry-run", "--dir", str(app), "--find-links", str(node_wheels))
    plan = json.loads(result.stdout)["plan"]
    step = next(s for s in plan if s["kind"] == "install-requirements")
    files = [Path(f).relative_to(app).as_posix() for f in step["params"]["files"]]
    assert files == [
        "requirements.txt",
        "custom_nodes/ComfyUI-Agreeable/requirements.txt",
        "custom_nodes/ComfyUI-FaceSwap/requirements.txt",
    ]
    assert step["params"]["left_out"] == [
        "custom node ComfyUI-NumpyTwo",
        "custom node ComfyUI-OldInpaint",
    ]
    assert "torch==2.1.2" in step["params"]["keep"]
    # transformers stays in its major version (ComfyUI's manifest), numpy's pin is dropped:
    # the kept FaceSwap node asks numpy 1 where numpy 2 is installed.
    assert "transformers>=4.30.0,<5" in step["params"]["keep"]
    assert not any(k.startswith("numpy") for k in step["params"]["keep"])

    result = invoke("--json", "--yes", "--dir", str(app), "--find-links", str(node_wheels))
    report = json.loads(result.stdout)
    installed = _installed(app / "venv")
    # One pip run for the app and the nodes that fit: numpy back to what FaceSwap pins,
    # transformers to the newest 4.x (never the 5.0.0 beside it), torch untouched.
    assert installed["numpy"] == "1.26.4"
    assert installed["transformers"] == "4.40.0"
    assert installed["torch"] == "2.1.2"
    assert result.exit_code == 1  # the two left-out nodes remain, and say so
    left = {
        f["details"].get("requested_by")
        for f in report["findings"]
        if f["id"] == "requirement-unmet"
    }
    assert left == {"custom node ComfyUI-NumpyTwo", "custom node ComfyUI-OldInpaint"}
    assert {f["subject"] for f in _by_id(report, "requirement-conflict")} == {
        "numpy",
        "transformers",
    }


def test_before_install_predicts_a_torch_move(
    tmp_path: Path, template_venv: Path, node_wheels: Path
) -> None:
    app = comfy_app(tmp_path / "ComfyUI", {})
    venv = copy_venv(template_venv, app / "venv")
    pip_install(
        venv,
        "torch==2.1.2",
        "numpy==1.26.4",
        "-r",
        str(app / "requirements.txt"),
        find_links=[node_wheels],
    )
    node = app / "custom_nodes" / "ComfyUI-NewTorch"
    node.mkdir(parents=True)
    (node / "requirements.txt").write_text("torch>=2.5\n")
    before = sorted(p.name for p in site_packages(venv).iterdir())
    code, report = run_check(
        app,
        "--before-install",
        str(node),
        "--find-links",
        str(node_wheels),
        "--write-constraints",
        str(tmp_path / "keep.txt"),
    )
    assert sorted(p.name for p in site_packages(venv).iterdir()) == before  # nothing installed
    risky = _by_id(report, "install-risky")
    assert [(f["subject"], f["details"]["from"], f["details"]["to"]) for f in risky] == [
        ("torch", "2.1.2", "2.5.0")
    ]
    data = report["before_install"]
    assert data["protected"] == ["torch"] and data["safe"] is False
    keep = (tmp_path / "keep.txt").read_text()
    assert "torch==2.1.2" in keep and "numpy>=1,<2" in keep
    # The node needs what the install must not give it: pip says so with the constraints.
    assert data["constraints"]["resolves"] is False
    assert "install-unresolvable" in finding_ids(report)
    assert code == 1


def test_before_install_constraints_prevent_the_damage(
    tmp_path: Path, template_venv: Path, node_wheels: Path
) -> None:
    app = comfy_app(tmp_path / "ComfyUI", {})
    venv = copy_venv(template_venv, app / "venv")
    pip_install(
        venv, "numpy==1.26.4", "-r", str(app / "requirements.txt"), find_links=[node_wheels]
    )
    code, report = run_check(
        app,
        "--before-install",
        "facetool",
        "--find-links",
        str(node_wheels),
        "--write-constraints",
        str(tmp_path / "c.txt"),
    )
    moves = {m["name"]: (m["to"], m["protected"]) for m in report["before_install"]["packages"]}
    assert moves == {"facetool": ("2.0", False), "numpy": ("2.1.0", True)}
    con = report["before_install"]["constraints"]
    assert con["resolves"] is True and con["protected"] == []
    assert {m["name"]: m["to"] for m in con["packages"]} == {"facetool": "1.0"}
    # Installed with the constraints file, the node keeps numpy 1.
    pip_install(venv, "facetool", "-c", str(tmp_path / "c.txt"), find_links=[node_wheels])
    assert _installed(venv)["numpy"] == "1.26.4" and _installed(venv)["facetool"] == "1.0"
    assert code == 1


def test_before_install_bad_input_is_one_line(tmp_path: Path, template_venv: Path) -> None:
    app = comfy_app(tmp_path / "ComfyUI", {})
    copy_venv(template_venv, app / "venv")
    result = invoke("check", "--dir", str(app), "--before-install", "custom_nodes/nope/")
    assert result.exit_code == 2
    result = invoke("check", "--dir", str(app), "--write-constraints", "x.txt")
    assert result.exit_code == 2


def test_a_node_never_moves_the_installed_torch(
    tmp_path: Path, template_venv: Path, node_wheels: Path
) -> None:
    app = comfy_app(tmp_path / "ComfyUI", {"ComfyUI-NewTorch": "torch>=2.5\neinops\n"})
    venv = copy_venv(template_venv, app / "venv")
    pip_install(
        venv,
        "torch==2.1.2",
        "numpy==1.26.4",
        "-r",
        str(app / "requirements.txt"),
        find_links=[node_wheels],
    )
    code, report = run_check(app)
    conflict = _by_id(report, "requirement-conflict")
    assert [f["subject"] for f in conflict] == ["torch"]
    assert conflict[0]["message"].startswith("the installed torch 2.1.2 (protected) must stay")
    result = invoke("--json", "--yes", "--dir", str(app), "--find-links", str(node_wheels))
    report = json.loads(result.stdout)
    step = next(s for s in report["plan"] if s["kind"] == "install-requirements")
    assert step["params"]["left_out"] == ["custom node ComfyUI-NewTorch"]
    assert _installed(venv)["torch"] == "2.1.2"
    assert "einops" not in _installed(venv)  # the node is left out whole, not in part


def test_nodes_pip_cannot_install_together(
    tmp_path: Path, template_venv: Path, node_wheels: Path
) -> None:
    """No specifier conflict, but FaceTool 2 needs numpy 2 where FaceSwap pins numpy 1: pip's
    resolver tells, and the later node is left out with its reason."""
    app = comfy_app(
        tmp_path / "ComfyUI",
        {"ComfyUI-FaceSwap": "numpy==1.26.4\n", "ComfyUI-FaceTool": "facetool>=2\n"},
    )
    venv = copy_venv(template_venv, app / "venv")
    pip_install(
        venv, "numpy==1.26.4", "-r", str(app / "requirements.txt"), find_links=[node_wheels]
    )
    code, report = run_check(app)
    assert "requirement-conflict" not in finding_ids(report)
    result = invoke("--json", "--dry-run", "--dir", str(app), "--find-links", str(node_wheels))
    step = next(s for s in json.loads(result.stdout)["plan"] if s["kind"] == "install-requirements")
    assert step["params"]["left_out"] == ["custom node ComfyUI-FaceTool"]
    assert "numpy" in step["params"]["unresolvable"]["custom node ComfyUI-FaceTool"]
    assert not any("FaceTool" in f for f in step["params"]["files"])
