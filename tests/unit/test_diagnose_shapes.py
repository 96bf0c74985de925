"""Structural matchers: the general shapes of Python failures, with the names pulled out, on lines
that no catalogue entry knows (other packages, paths, versions and quoting than their examples)."""

from __future__ import annotations

import itertools

import pytest

from repair.diagnose.catalogue import load_catalogue
from repair.diagnose.scan import diagnose_lines
from repair.diagnose.shapes import SHAPES

PACKAGES = ["requests", "zzfoo_bar", "pkg.sub.mod", "kornia", "x9lib"]
DISTS = [("peft", "0.7.1"), ("my-lib", "2.0.0rc1"), ("Some_Pkg", "10.4"), ("a.b", "1")]
PATHS = [
    "C:\\Users\\Jo Do\\sd\\venv\\Lib\\site-packages",
    "/home/u/.venv/lib/python3.12/site-packages",
    "D:/AI/ComfyUI_windows_portable/python_embeded/Lib/site-packages",
]
QUOTES = ["'", '"', ""]


def _causes(lines: list[str]) -> list[tuple[str, dict[str, str]]]:
    result = diagnose_lines(lines)
    return [(c.lead.id, c.named) for c in result.causes]


@pytest.mark.parametrize("sig", SHAPES, ids=[s.id for s in SHAPES])
def test_each_shape_matches_its_examples(sig) -> None:  # type: ignore[no-untyped-def]
    for example in sig.examples:
        assert sig.regex.search(example), example


@pytest.mark.parametrize(("pkg", "q"), list(itertools.product(PACKAGES, QUOTES)))
def test_a_missing_module_is_a_cause_with_its_name(pkg: str, q: str) -> None:
    causes = _causes([f"ModuleNotFoundError: No module named {q}{pkg}{q}"])
    assert len(causes) == 1
    assert causes[0][1]["module"] == pkg


@pytest.mark.parametrize(("pkg", "path"), list(itertools.product(PACKAGES, PATHS)))
def test_cannot_import_name_pulls_out_name_module_and_path(pkg: str, path: str) -> None:
    top = pkg.split(".")[0]
    line = f"ImportError: cannot import name 'Thing_2' from '{pkg}' ({path}/{top}/__init__.py)"
    [(sid, names)] = _causes([line])
    assert names["name"] == "Thing_2" and names["module"] == pkg
    assert names["path"].startswith(path)


@pytest.mark.parametrize(("dist", "req"), list(itertools.product(DISTS, DISTS)))
def test_pip_requires_but_you_have_any_versions(
    dist: tuple[str, str], req: tuple[str, str]
) -> None:
    line = (
        f"{dist[0]} {dist[1]} requires {req[0]}<3,>={req[1]}, but you have {req[0]} 9.9.9 "
        "which is incompatible."
    )
    [(sid, names)] = _causes([line])
    assert (names["dist"], names["req"], names["spec"], names["have"]) == (
        dist[0],
        req[0],
        f"<3,>={req[1]}",
        "9.9.9",
    )


@pytest.mark.parametrize(
    "line",
    [
        "ImportError: Pillow>=10.1 is required for a normal functioning of this module, but found "
        "Pillow==9.5.0.",
        "RuntimeError: kornia requires torch >= 2.0.0 but found 1.13.1",
        "ValueError: mylib requires numpy>=2 but you have numpy 1.26.4",
        "pkg_resources.VersionConflict: (Pillow 9.5.0 (c:\\sd\\venv\\lib\\site-packages), "
        "Requirement.parse('Pillow>=10'))",
        "importlib.metadata.PackageNotFoundError: No package metadata was found for xformers",
        "ERROR: Package 'gradio' requires a different Python: 3.7.9 not in '>=3.8'",
        "ERROR: No matching distribution found for onnxruntime-gpu==1.99",
    ],
)
def test_version_requirement_messages_are_causes(line: str) -> None:
    causes = _causes([line])
    assert len(causes) == 1 and (causes[0][1].get("req") or causes[0][1].get("dist")), causes


SO = ["so", "so.1", "cpython-311-x86_64-linux-gnu.so"]


@pytest.mark.parametrize(("path", "ext"), list(itertools.product(PATHS[1:2] + ["/opt/x"], SO)))
def test_undefined_symbol_names_the_compiled_module(path: str, ext: str) -> None:
    line = f"ImportError: {path}/flash_attn_2_cuda.{ext}: undefined symbol: _ZN3c105ErrorC2E"
    [(sid, names)] = _causes([line])
    assert sid == "shape-undefined-symbol" and names["path"].endswith(ext)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_dll_and_attribute_shapes(pkg: str) -> None:
    name = pkg.split(".")[-1]
    causes = _causes(
        [
            f"ImportError: DLL load failed while importing {name}: The specified module "
            "could not be found.",
            f"AttributeError: module '{pkg}' has no attribute 'newThing'",
        ]
    )
    mods = sorted(n.get("module", "") for _, n in causes)
    assert mods == sorted([name, pkg]) or len(causes) == 2


def test_the_node_of_a_traceback_is_named() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/x/ComfyUI/nodes.py", line 2000, in load_custom_node',
        '  File "/x/ComfyUI/custom_nodes/My-Node/__init__.py", line 3, in <module>',
        "    import zzqq",
        "ModuleNotFoundError: No module named 'zzqq'",
        "",
        "Cannot import /x/ComfyUI/custom_nodes/My-Node module for custom nodes: No module named "
        "'zzqq'",
        "   0.0 seconds (IMPORT FAILED): /x/ComfyUI/custom_nodes/My-Node",
        "Some unrelated line far below",
    ]
    result = diagnose_lines(lines)
    assert len(result.causes) == 1, [c.to_json() for c in result.causes]
    cause = result.causes[0]
    assert cause.lead.id == "shape-module-not-found"
    assert cause.node == "My-Node" and cause.named["module"] == "zzqq"
    assert "zzqq" in result.verdict


def test_a_node_that_fails_for_an_unknown_reason_is_a_cause() -> None:
    result = diagnose_lines(["   0.1 seconds (IMPORT FAILED): C:\\C\\custom_nodes\\odd-node"])
    assert [c.node for c in result.causes] == ["odd-node"]


def test_shapes_attach_to_the_catalogue_entry_of_the_same_line() -> None:
    result = diagnose_lines(["ModuleNotFoundError: No module named 'accelerate'"])
    [cause] = result.causes
    assert not cause.lead.shape and cause.named["module"] == "accelerate"


def test_shapes_are_not_catalogue_entries() -> None:
    cat = load_catalogue()
    assert not any(s.shape for s in cat) and all(s.shape for s in cat.shapes)
