from __future__ import annotations

from pathlib import Path

import repair
from repair.checks import registry
from repair.index import findings

IDS = (
    "wheel-unavailable",
    "index-unreachable",
    "yanked-pin",
    "source-build-required",
    "torch-index-fallback",
    "preflight-unchecked",
)


def test_preflight_ids_are_registered_with_docs():
    assert "repair.index.findings" in registry.EXTRA_ID_MODULES
    docs = Path(repair.__file__).parent / "data" / "findings"
    for fid in IDS:
        assert registry.FINDING_TYPES[fid].id == fid
        text = (docs / f"{fid}.md").read_text(encoding="utf-8")
        assert text.splitlines()[0] == f"# {fid}"
    assert findings.TORCH_INDEX_FALLBACK.severity.value == "error"


def test_importing_the_preflight_does_not_import_requests():
    import subprocess
    import sys

    code = (
        "import sys, repair.index.preflight, repair.index.config; "
        "print('requests' in sys.modules, 'packaging.tags' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(repair.__file__).parent.parent,
    ).stdout
    assert out.split() == ["False", "False"]
