"""Every known-conflict rule of the shipped manifests, firing and not firing, evaluated against
synthetic site-packages trees made of real wheels."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.app import manifest as manifests
from repair.app.conflicts import Facts, evaluate
from repair.env.dists import scan_site
from repair.env.torchbuild import from_dist
from tests.kit import build_wheel, unpack_wheel

Pkg = tuple  # (name, version) or (name, version, [requires])

# rule -> (installed when it fires, installed when it must not, the app's own specifiers)
CASES: dict[str, tuple[list[Pkg], list[Pkg], dict[str, str]]] = {
    "numpy2-onnxruntime-numpy1": (
        [("numpy", "2.1.0"), ("onnxruntime-directml", "1.17.1")],
        [("numpy", "2.1.0"), ("onnxruntime-directml", "1.19.2")],
        {},
    ),
    "numpy2-opencv-numpy1": (
        [("numpy", "2.0.0"), ("opencv-python-headless", "4.9.0.80")],
        [("numpy", "1.26.4"), ("opencv-python-headless", "4.9.0.80")],
        {},
    ),
    "numpy2-scikit-image-numpy1": (
        [("numpy", "2.0.1"), ("scikit-image", "0.22.0")],
        [("numpy", "2.0.1"), ("scikit-image", "0.24.0")],
        {},
    ),
    "numpy2-scipy-numpy1": (
        [("numpy", "2.0.1"), ("scipy", "1.11.4")],
        [("numpy", "2.0.1"), ("scipy", "1.13.0")],
        {},
    ),
    "numpy2-pandas-numpy1": (
        [("numpy", "2.0.1"), ("pandas", "2.1.4")],
        [("numpy", "2.0.1"), ("pandas", "2.2.2")],
        {},
    ),
    "numpy2-torch-numpy1": (
        [("numpy", "2.1.2"), ("torch", "2.1.2")],
        [("numpy", "2.1.2"), ("torch", "2.3.1")],
        {},
    ),
    "opencv412-numpy1": (
        [("opencv-python", "4.12.0.88"), ("numpy", "1.26.4")],
        [("opencv-python", "4.11.0.86"), ("numpy", "1.26.4")],
        {},
    ),
    "numpy-major-off-pin": ([("numpy", "2.1.2")], [("numpy", "1.26.4")], {"numpy": "==1.26.2"}),
    "accelerate-too-old-transformers": (
        [("transformers", "4.46.1"), ("accelerate", "0.21.0")],
        [("transformers", "4.46.1"), ("accelerate", "0.31.0")],
        {},
    ),
    "accelerate-too-old-transformers5": (
        [("transformers", "5.0.0"), ("accelerate", "1.0.1")],
        [("transformers", "5.0.0"), ("accelerate", "1.1.0")],
        {},
    ),
    "accelerate-too-old-diffusers": (
        [("diffusers", "0.31.0"), ("accelerate", "0.21.0")],
        [("diffusers", "0.31.0"), ("accelerate", "0.31.0")],
        {},
    ),
    "bitsandbytes-no-build-for-backend": (
        [("torch", "2.4.1+cpu"), ("torch-directml", "0.2.4.dev240913"), ("bitsandbytes", "0.43.0")],
        [("torch", "2.1.2+cu121"), ("bitsandbytes", "0.43.0")],
        {},
    ),
    "bitsandbytes-directml": (
        [("torch", "2.4.1+cpu"), ("torch-directml", "0.2.4.dev240913"), ("bitsandbytes", "0.49.0")],
        [("torch", "2.1.2+cu121"), ("bitsandbytes", "0.49.0")],
        {},
    ),
    "bitsandbytes-zluda": (
        [("torch", "2.3.1+cu118"), ("bitsandbytes", "0.49.0")],
        [("torch", "2.3.1+cu118")],
        {},
    ),
    "bitsandbytes-rocm-too-old": (
        [("torch", "2.5.1+rocm6.2"), ("bitsandbytes", "0.43.0")],
        [("torch", "2.5.1+rocm6.2"), ("bitsandbytes", "0.46.0")],
        {},
    ),
    "bitsandbytes-too-old-for-cuda": (
        [("torch", "2.7.1+cu128"), ("bitsandbytes", "0.45.0")],
        [("torch", "2.7.1+cu128"), ("bitsandbytes", "0.45.3")],
        {},
    ),
    "bitsandbytes-too-old-for-cuda13": (
        [("torch", "2.9.0+cu130"), ("bitsandbytes", "0.45.5")],
        [("torch", "2.9.0+cu130"), ("bitsandbytes", "0.48.1")],
        {},
    ),
    "xformers-torch-mismatch": (
        [("torch", "2.3.1"), ("xformers", "0.0.23.post1", ["numpy", "torch==2.1.2"])],
        [("torch", "2.1.2"), ("xformers", "0.0.23.post1", ["numpy", "torch==2.1.2"])],
        {},
    ),
    "torchvision-torch-mismatch": (
        [("torch", "2.3.1+cu121"), ("torchvision", "0.16.2+cu121", ["numpy", "torch==2.1.2"])],
        [("torch", "2.1.2+cu121"), ("torchvision", "0.16.2+cu121", ["numpy", "torch==2.1.2"])],
        {},
    ),
    "torchvision-build-tag-mismatch": (
        [("torch", "2.1.2+cu121"), ("torchvision", "0.16.2+cpu")],
        [("torch", "2.1.2+cu121"), ("torchvision", "0.16.2")],
        {},
    ),
    "protobuf4-generated-for-3": (
        [("protobuf", "4.25.3")],
        [("protobuf", "3.20.3")],
        {"protobuf": "==3.20.0"},
    ),
    "protobuf4-onnx-old": (
        [("protobuf", "4.25.3"), ("onnx", "1.12.0")],
        [("protobuf", "4.25.3"), ("onnx", "1.16.2")],
        {},
    ),
    "setuptools-without-pkg-resources": (
        [("setuptools", "82.0.0")],
        [("setuptools", "69.5.1")],
        {},
    ),
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rule-wheels")


def site_with(tmp_path: Path, wheels: Path, packages: list[Pkg]) -> Path:
    site = tmp_path / "site-packages"
    for pkg in packages:
        name, version = pkg[0], pkg[1]
        requires = pkg[2] if len(pkg) > 2 else []
        folder = wheels / f"{name}-{version}-{abs(hash(tuple(requires)))}"
        wheel = next(iter(folder.glob("*.whl")), None) if folder.exists() else None
        if wheel is None:
            wheel = build_wheel(folder, name, version, requires=requires)
        unpack_wheel(wheel, site)
    return site


# Rules about the machine's backend: the backend the cases run with.
MACHINE = {"bitsandbytes-zluda": "zluda"}


def facts_for(site: Path, specs: dict[str, str], machine: str | None = None) -> Facts:
    from packaging.specifiers import SpecifierSet

    installed = scan_site(site).installed()
    torch = installed.get("torch")
    build = (
        from_dist(torch, installed, sys_platform="linux", platform_machine="x86_64")
        if torch
        else None
    )
    return Facts(
        installed=installed,
        app_specs={k: SpecifierSet(v) for k, v in specs.items()},
        torch=build,
        machine=machine,
    )


def all_rules() -> list[dict]:
    seen: dict[str, dict] = {}
    for name in ("a1111", "sdnext", "forge", "amdgpu", "comfyui", "generic"):
        for rule in manifests.load(name).conflicts:
            seen.setdefault(rule["rule"], rule)
    return list(seen.values())


def test_every_shipped_rule_has_cases() -> None:
    assert {r["rule"] for r in all_rules()} == set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires(tmp_path: Path, wheels: Path, rule: str) -> None:
    fire, _, specs = CASES[rule]
    hits = evaluate(
        all_rules(), facts_for(site_with(tmp_path, wheels, fire), specs, MACHINE.get(rule))
    )
    names = [h.rule for h in hits]
    assert rule in names, names
    hit = next(h for h in hits if h.rule == rule)
    assert "{" not in hit.message and "{" not in hit.remedy, hit.message
    assert hit.subject and hit.severity in ("error", "warning", "info")


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_does_not_fire(tmp_path: Path, wheels: Path, rule: str) -> None:
    _, calm, specs = CASES[rule]
    hits = evaluate(
        all_rules(), facts_for(site_with(tmp_path, wheels, calm), specs, MACHINE.get(rule))
    )
    assert rule not in [h.rule for h in hits]


def test_message_names_versions(tmp_path: Path, wheels: Path) -> None:
    fire, _, specs = CASES["numpy2-opencv-numpy1"]
    hit = evaluate(all_rules(), facts_for(site_with(tmp_path, wheels, fire), specs))[0]
    assert hit.rule == "numpy2-opencv-numpy1"
    assert "numpy 2.0.0" in hit.message and "opencv-python-headless 4.9.0.80" in hit.message
    assert hit.packages == {"numpy": "2.0.0", "opencv-python-headless": "4.9.0.80"}


def test_backend_limit_and_absent(tmp_path: Path, wheels: Path) -> None:
    rules = [
        {
            "rule": "no-bnb-on-rocm",
            "backend": ["rocm"],
            "message": "m",
            "remedy": "r",
            "when": [{"package": "bitsandbytes"}],
        },
        {
            "rule": "needs-safetensors",
            "message": "m",
            "remedy": "r",
            "when": [{"package": "torch"}, {"package": "safetensors", "absent": True}],
        },
    ]
    site = site_with(tmp_path, wheels, [("bitsandbytes", "0.43.0"), ("torch", "2.1.2")])
    facts = facts_for(site, {})
    assert [h.rule for h in evaluate(rules, facts)] == ["needs-safetensors"]
    rocm = Facts(installed=facts.installed, machine="rocm")
    assert [h.rule for h in evaluate(rules, rocm)] == ["no-bnb-on-rocm", "needs-safetensors"]
