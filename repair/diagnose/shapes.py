"""Structural matchers: the general shapes of Python failures, recognised whatever the package.

A catalogue entry knows one error of one package. A shape knows how Python, pip and the common
libraries word a whole class of failure (a module that cannot be found, a name that cannot be
imported from a module, a DLL that does not load, a version requirement that is not met, an
undefined symbol in a compiled module, an attribute a module lacks) and pulls the names out of the
line with named groups. Each shape becomes a cause even when no catalogue entry knows the line;
when one does, the entry leads the cause and the names are attached to it, so that the cause can
be tied to the environment (``repair.diagnose.environment``).

Shapes are scanned with the catalogue, through the same prefilter, in the same single pass.
Their ``cause`` and ``remedy`` are templates filled with the names of the line.
"""

from __future__ import annotations

import re
from typing import Any

from repair.diagnose.signature import _compile

# A shape whose line only tells where in a traceback we are (a frame inside a custom node or an
# extension): it names the node of the causes that follow, and is never a cause itself.
FRAME = "frame"
# A shape that says a node or an extension failed to load, without saying why: a cause only when
# no other cause names the same node.
NODE = "node"
# The shapes that pull out a requirement that is not met.
VERSION = "version"

_Q = r"""['"‘’]?"""  # optional quotes, as Python, pip and the libraries write them
_MOD = r"[A-Za-z_][\w.]*\w"
_DIST = r"[A-Za-z0-9][\w.-]*[A-Za-z0-9]"

_DOCS = "https://docs.python.org/3/library/exceptions.html"
_PIP = "https://pip.pypa.io/en/stable/topics/dependency-resolution/"

_RAW: list[dict[str, Any]] = [
    {
        "id": "shape-module-not-found",
        "kind": "module",
        "family": "python-deps",
        "pattern": rf"No module named {_Q}(?P<module>{_MOD}|\w){_Q}",
        "examples": [
            "ModuleNotFoundError: No module named 'requests'",
            "Cannot import /home/u/ComfyUI/custom_nodes/was-node-suite module for custom nodes: "
            "No module named 'numba'",
            "ImportError: No module named skimage",
        ],
        "cause": "Python cannot find the module '{module}': what provides it is not installed in "
        "the environment the application runs in, or its files are incomplete.",
        "remedy": "Install what provides '{top}' into the application's venv (with the venv's own "
        "python: 'python -m pip install <distribution>'); when a requirement file of the "
        "application or of a node names it, plain 'repair' installs it.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-cannot-import-name",
        "kind": "module",
        "family": "python-deps",
        "pattern": rf"cannot import name {_Q}(?P<name>\w+){_Q}"
        rf"(?: from {_Q}(?P<module>{_MOD}|\w){_Q})?(?: \((?P<path>[^()]+)\))?",
        "examples": [
            "ImportError: cannot import name 'cached_download' from 'huggingface_hub' "
            "(C:\\sd\\venv\\lib\\site-packages\\huggingface_hub\\__init__.py)",
            "ImportError: cannot import name 'Undefined' from 'pydantic.fields' "
            "(/opt/sd/venv/lib/python3.10/site-packages/pydantic/fields.py)",
            "ImportError: cannot import name 'VectorQuantizer2'",
        ],
        "cause": "The module '{module}' has no '{name}': the installed version of the distribution "
        "that provides it is not the one the importing code was written for (too new or "
        "too old), or its files are mixed from two versions.",
        "remedy": "Install the version of '{top}' that the application (or the node that imports "
        "it) asks for; plain 'repair' does when a requirement file pins it. When the "
        "version is already the one asked for, update the node or extension that imports "
        "'{name}'.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-dll-load-failed",
        "kind": "module",
        "family": "python-deps",
        "pattern": rf"DLL load failed(?: while importing (?P<module>{_MOD}|\w))?"
        r"(?::\s*(?P<reason>[^\r\n]{0,200}))?",
        "examples": [
            "ImportError: DLL load failed while importing _C: The specified module could not be "
            "found.",
            "ImportError: DLL load failed while importing cv2: The specified procedure could not "
            "be found.",
            "ImportError: DLL load failed: The specified module could not be found.",
        ],
        "cause": "Windows could not load the compiled module '{module}' or a DLL it needs: a file "
        "of the distribution is missing or from another build, a system runtime (the "
        "Visual C++ redistributable, a CUDA or driver DLL) is missing, or an antivirus "
        "holds or removed a file.",
        "remedy": "Reinstall the distribution that provides '{module}' (plain 'repair' does when "
        "its files do not match its RECORD); install the latest Visual C++ "
        "redistributable (x64) when the DLL is a system one.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-pip-requires-but-you-have",
        "kind": VERSION,
        "family": "python-deps",
        "pattern": rf"(?P<dist>{_DIST}) (?P<dist_version>[^\s,]+) (?:requires|has requirement) "
        rf"(?P<req>{_DIST})(?:\[[\w,-]*\])?(?P<spec>[<>=!~][^\s]*?)?(?:;[^,]*)?, "
        rf"but you(?: have|'ll have) (?P<have_name>{_DIST}) (?P<have>[^\s,]+)",
        "examples": [
            "torchvision 0.16.2 requires torch==2.1.2, but you have torch 2.3.0 which is "
            "incompatible.",
            'opencv-python 4.12.0.88 requires numpy<2.3.0,>=2; python_version >= "3.9", but you '
            "have numpy 1.26.4 which is incompatible.",
            "onnx 1.14.0 has requirement protobuf>=3.20.2, but you'll have protobuf 3.19.6 which "
            "is incompatible.",
        ],
        "cause": "pip installed a set in which '{dist}' {dist_version} needs {req}{spec}, but "
        "{have_name} {have} is installed: the two were pinned by different requirement "
        "files, or one install replaced what another needs.",
        "remedy": "Make the versions agree: plain 'repair' installs what the application's "
        "requirements pin; when a node or an extension asks for the other version, "
        "update it or remove it.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-required-for-normal-functioning",
        "kind": VERSION,
        "family": "python-deps",
        "pattern": rf"(?P<req>{_DIST})(?P<spec>[<>=!~]=?[^\s]+) is required for a normal "
        r"functioning of this module, but found "
        rf"(?P<have_name>{_DIST})==(?P<have>[^\s]*\w)",
        "examples": [
            "ImportError: huggingface-hub>=0.19.3,<1.0 is required for a normal functioning of "
            "this module, but found huggingface-hub==0.17.3.",
            "ImportError: tokenizers>=0.11.1,!=0.11.3,<0.14 is required for a normal functioning "
            "of this module, but found tokenizers==0.15.0.",
        ],
        "cause": "A library (transformers, diffusers or one built the same way) checks its "
        "dependencies at import: it needs {req}{spec} and found {have}.",
        "remedy": "Install the {req} version it asks for, or the version of the library that "
        "fits the installed {req}; plain 'repair' does when the application's "
        "requirements pin them.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-requires-but-found",
        "kind": VERSION,
        "family": "python-deps",
        "pattern": rf"(?i)(?P<dist>{_DIST}) requires (?:the )?(?P<req>{_DIST}) ?(?:version )?"
        r"(?P<spec>(?:[<>=!~]=?|at least |>= ?)\s?v?\d[\w.*]*)(?: or (?:newer|later|"
        r"higher|above))?[,.;]? ?(?:but|while|however,?) (?:found|got|you have|"
        r"the installed version is|installed version is|version|it is|is installed:?"
        rf"|only found|detected) (?:version )?(?P<have_name>{_DIST}(?: |==))?v?"
        r"(?P<have>\d[\w.+-]*\w|\d)",
        "examples": [
            "ImportError: gradio requires pydantic>=2.0 but found 1.10.13",
            "RuntimeError: xformers requires torch >= 2.1 but found 2.0.1",
            "ValueError: peft requires accelerate>=0.21.0 but you have accelerate 0.20.3",
        ],
        "cause": "'{dist}' needs {req} {spec} and the installed one is {have}.",
        "remedy": "Install the {req} version it asks for, or the version of '{dist}' that fits "
        "the installed one; plain 'repair' does when the application's requirements "
        "pin them.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-version-conflict",
        "kind": VERSION,
        "family": "python-deps",
        "pattern": rf"VersionConflict: \(?(?P<have_name>{_DIST}) (?P<have>[^\s(]+) \([^)]*\),? "
        rf"Requirement\.parse\(['\"](?P<req>{_DIST})(?P<spec>[^'\"]*)['\"]",
        "examples": [
            "pkg_resources.VersionConflict: (tokenizers 0.13.3 "
            "(/opt/sd/venv/lib/python3.10/site-packages), Requirement.parse('tokenizers<0.19,"
            ">=0.14'))",
        ],
        "cause": "pkg_resources found {have_name} {have} where {req}{spec} is required.",
        "remedy": "Install the {req} version asked for; plain 'repair' does when the "
        "application's requirements pin it.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-distribution-not-found",
        "kind": VERSION,
        "family": "python-deps",
        "pattern": rf"(?:DistributionNotFound: The {_Q}(?P<req>{_DIST})"
        rf"(?P<spec>[<>=!~][^'\"]*)?{_Q} "
        r"distribution was not found|No package metadata was found for "
        rf"(?P<req2>{_DIST}))",
        "examples": [
            "pkg_resources.DistributionNotFound: The 'tqdm>=4.27' distribution was not found "
            "and is required by transformers",
            "importlib.metadata.PackageNotFoundError: No package metadata was found for "
            "bitsandbytes",
        ],
        "cause": "Code asked for the installed version of '{req}' and no metadata of it is in the "
        "environment: it is not installed, or was installed without its metadata folder.",
        "remedy": "Install '{req}' into the application's venv; plain 'repair' does when a "
        "requirement file names it.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-requires-other-python",
        "kind": VERSION,
        "family": "pip-venv",
        "pattern": rf"Package {_Q}(?P<dist>{_DIST}){_Q} requires a different Python: "
        rf"(?P<have>\d[\w.]*) not in {_Q}(?P<spec>[^'\"]+){_Q}",
        "examples": [
            "ERROR: Package 'insightface' requires a different Python: 3.8.10 not in '>=3.9'",
        ],
        "cause": "'{dist}' does not support Python {have} (it asks for {spec}).",
        "remedy": "Use a Python that fits (the application's manifest names the recommended one) "
        "and rebuild the venv with it, or pin an older '{dist}'.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-no-matching-distribution",
        "kind": VERSION,
        "family": "pip-venv",
        "pattern": rf"No matching distribution found for (?P<req>{_DIST})(?P<spec>[<>=!~][^\s]*)?"
        rf"|Could not find a version that satisfies the requirement (?P<req2>{_DIST})"
        r"(?P<spec2>[<>=!~][^\s]*)?",
        "examples": [
            "ERROR: No matching distribution found for torch==2.1.2",
            "ERROR: No matching distribution found for mediapipe",
            "ERROR: Could not find a version that satisfies the requirement xformers==0.0.99 (from "
            "versions: none)",
        ],
        "cause": "pip found no file of '{req}{spec}' for this Python and platform on the "
        "indexes it was given: the version is too old or too new for the Python, the "
        "platform has no wheel, or the index (the torch index for a GPU build) was "
        "not given.",
        "remedy": "Check the venv's Python against what '{req}' supports, and that the index is "
        "reachable; 'repair check' names the Python the application recommends.",
        "rebuild_fixes": "no",
    },
    {
        "id": "shape-wheel-build-failed",
        "kind": "build",
        "family": "pip-venv",
        "pattern": rf"(?:Failed building wheel for|Could not build wheels for) (?P<req>{_DIST})"
        rf"|Building (?:wheel|editable) for (?P<req2>{_DIST}) \([\w.]+\) did not run "
        r"successfully",
        "examples": [
            "ERROR: Failed building wheel for pycocotools",
            "  × Building wheel for basicsr (setup.py) did not run successfully.",
        ],
        "cause": "pip had no wheel of '{req}' for this Python and platform and could not build it "
        "from source (no compiler, no Python headers, or a build script that no longer "
        "works with current setuptools).",
        "remedy": "Use a Python for which '{req}' ships wheels (the application's recommended "
        "Python), install a prebuilt wheel, or install the build tools it needs; a "
        "rebuild with the same Python fails the same way.",
        "rebuild_fixes": "no",
    },
    {
        "id": "shape-missing-argument",
        "kind": "api",
        "family": "python-deps",
        "pattern": r"(?P<func>[\w.]+)\(\) missing \d+ required (?:positional |keyword-only )?"
        rf"arguments?: {_Q}(?P<name>\w+){_Q}",
        "examples": [
            "TypeError: Thing.__init__() missing 1 required positional argument: 'config'",
        ],
        "cause": "'{func}' needs '{name}' and the caller does not pass it: the caller and the "
        "code it calls come from different versions.",
        "remedy": "Update the node or extension that makes the call (or the application, when "
        "the traceback is inside it); plain 'repair' when a library's version is off.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-undefined-symbol",
        "kind": "path",
        "family": "python-deps",
        "pattern": r"(?P<path>[^\s:'\"]+\.(?:so|pyd|dylib)[\w.]*): undefined symbol: "
        r"(?P<symbol>\w+)",
        "examples": [
            "ImportError: /opt/sd/venv/lib/python3.10/site-packages/xformers/_C.so: undefined "
            "symbol: _ZN3c104cuda9SetDeviceEi",
            "OSError: /home/u/venv/lib/python3.11/site-packages/torchaudio/lib/libtorchaudio.so: "
            "undefined symbol: _ZNK5torch8autograd4Node4nameEv",
        ],
        "cause": "The compiled module {path} was built against another version of a library it "
        "links to (most often another torch): a symbol it needs is not there.",
        "remedy": "Install the build of the distribution that owns it which matches the installed "
        "torch (or the torch it was built for); plain 'repair' aligns the torch family.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-shared-object-missing",
        "kind": "path",
        "family": "system",
        "pattern": r"(?P<path>[^\s:'\"]*lib[\w.+-]+\.so[\d.]*): cannot open shared object file",
        "examples": [
            "ImportError: libcudart.so.12: cannot open shared object file: No such file or "
            "directory",
            "OSError: libGL.so.1: cannot open shared object file: No such file or directory",
        ],
        "cause": "A shared library ({path}) that a compiled module links to is not found: a "
        "system package, or a CUDA runtime wheel of another version.",
        "remedy": "Install the system package that provides it, or the CUDA runtime of the "
        "version the module was built for.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-module-has-no-attribute",
        "kind": "module",
        "family": "python-deps",
        "pattern": rf"module {_Q}(?P<module>{_MOD}|\w){_Q} has no attribute {_Q}(?P<name>\w+){_Q}",
        "examples": [
            "AttributeError: module 'numpy' has no attribute 'float'",
            "AttributeError: partially initialized module 'cv2' has no attribute 'gapi_wip_gst_"
            "GStreamerPipeline' (most likely due to a circular import)",
        ],
        "cause": "The module '{module}' has no '{name}': the installed version removed it (or is "
        "too old to have it), or its files are mixed from two versions.",
        "remedy": "Install the version of '{top}' that the application (or the node that uses "
        "it) asks for; plain 'repair' does when a requirement file pins it. When it is "
        "already that version, update the node or extension that uses '{name}'.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-unexpected-keyword",
        "kind": "api",
        "family": "python-deps",
        "pattern": r"(?P<func>[\w.]+)\(\) got an unexpected keyword argument "
        rf"{_Q}(?P<name>\w+){_Q}",
        "examples": [
            "TypeError: AsyncConnectionPool.__init__() got an unexpected keyword argument "
            "'socket_options'",
        ],
        "cause": "'{func}' does not take '{name}': the caller and the library come from "
        "different versions.",
        "remedy": "Install the version of the library that the application's requirements pin "
        "(plain 'repair'); when it already is that version, update the node or "
        "extension that makes the call.",
        "rebuild_fixes": "partly",
    },
    {
        "id": "shape-custom-node-failed",
        "kind": NODE,
        "family": "extensions",
        "pattern": r"Cannot import (?P<path>.+?) module for custom nodes:|\(IMPORT FAILED\):? "
        r"(?P<path2>\S.*)|Error (?:running install\.py for extension|loading script:?)"
        r" (?P<path3>\S.*?)\.?$",
        "examples": [
            "Cannot import C:\\ComfyUI\\custom_nodes\\ComfyUI-Impact-Pack module for custom "
            "nodes: cannot import name 'x' from 'y'",
            "   0.3 seconds (IMPORT FAILED): /home/u/ComfyUI/custom_nodes/comfyui-reactor-node",
            "*** Error running install.py for extension /opt/sd/extensions/sd-webui-controlnet.",
        ],
        "cause": "The node or extension '{node}' failed to load; the lines before this one say "
        "why.",
        "remedy": "Update '{node}' (its own folder: 'git pull', or the manager's Update), then run "
        "'repair' so that its requirements are installed; disable it if it still fails.",
        "rebuild_fixes": "no",
    },
    {
        "id": "shape-traceback-frame",
        "kind": FRAME,
        "family": "extensions",
        "pattern": r"File \"(?P<path>[^\"]*?[\\/](?:custom_nodes|extensions)[\\/]"
        r"(?P<node>[^\\/\"]+)[\\/][^\"]*)\", line",
        "examples": [
            '  File "C:\\ComfyUI\\custom_nodes\\was-node-suite-comfyui\\WAS_Node_Suite.py", '
            "line 12, in <module>",
        ],
        "cause": "A traceback frame inside '{node}'.",
        "remedy": "",
        "rebuild_fixes": "no",
    },
]

# Lines that have a shape but are known to be harmless in healthy start-ups (an optional feature
# that says it is off). A shape never fires on them; catalogue entries still may.
BENIGN = re.compile(
    r"ONNX failed to initiali[sz]e|Proceeding without it|is not installed; (?:skipping|optional)"
    r"|\(optional\)|optional dependency"
)

# Every shape's names, by kind: the one that keys its causes (one cause per module, per path).
KEY_NAMES = ("module", "req", "req2", "path", "path2", "path3", "func", "name")


def node_of(path: str) -> str | None:
    """The custom node or extension folder that ``path`` is inside, if any."""
    m = re.search(r"[\\/](?:custom_nodes|extensions|extensions-builtin)[\\/]([^\\/\"'\s]+)", path)
    if m:
        return m.group(1)
    # "Cannot import X module" names the node folder itself.
    tail = re.split(r"[\\/]", path.rstrip("\\/. "))[-1]
    return tail or None


def fill(template: str, names: dict[str, str]) -> str:
    """A shape's template with the names of its line; names the line lacks read as 'it'."""
    values = dict(names)
    module = values.get("module") or values.get("req") or ""
    values.setdefault("top", module.split(".")[0] if module else "it")
    for key in (
        "module",
        "name",
        "req",
        "have",
        "have_name",
        "dist",
        "dist_version",
        "path",
        "func",
        "symbol",
        "node",
    ):
        values.setdefault(key, "")
    values.setdefault("spec", "")
    try:
        text = template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template
    return re.sub(r"'' ?|\s{2,}", lambda m: " " if m.group().startswith(" ") else "", text)


def _build() -> tuple[Any, ...]:
    out = []
    for raw in _RAW:
        entry = dict(raw)
        kind = entry.pop("kind")
        entry.setdefault("restart_needed", False)
        entry.setdefault("source", [_PIP if kind == VERSION else _DOCS])
        sig = _compile(entry, "shapes")
        object.__setattr__(sig, "shape", kind)
        out.append(sig)
    return tuple(out)


SHAPES = _build()
