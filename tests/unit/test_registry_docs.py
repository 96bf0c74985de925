"""Every finding id is well formed, registered once, documented, and listed."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from repair.checks.docs import doc_text
from repair.checks.registry import RegistryError, all_finding_types, finding_type
from repair.model import FindingId, Fix, Severity, StepKind
from tests.cli import invoke

CONTRACT_IDS = {
    "venv-missing",
    "venv-interpreter-broken",
    "python-unsupported",
    "pip-missing",
    "stale-residue",
    "duplicate-distribution",
    "orphan-files",
    "missing-file",
    "record-mismatch",
    "requirement-unmet",
    "dependency-conflict",
}


def test_every_id_has_a_doc_entry_and_every_doc_an_id() -> None:
    types = all_finding_types()
    missing = sorted(i for i in types if doc_text(i) is None)
    assert missing == [], f"finding ids without documentation: {missing}"
    folder = resources.files("repair") / "data" / "findings"
    documented = {p.name[:-3] for p in folder.iterdir() if p.name.endswith(".md")}
    orphans = sorted(documented - set(types))
    assert orphans == [], f"documentation for unknown ids: {orphans}"


def test_every_registered_id_is_a_constant_and_every_constant_registered() -> None:
    constants = {v for k, v in vars(FindingId).items() if k.isupper()}
    assert set(all_finding_types()) == constants
    for name, value in vars(FindingId).items():
        if name.isupper():
            assert name == value.upper().replace("-", "_"), name


def test_step_kinds_are_the_planner_s_and_the_pipeline_s() -> None:
    import ast
    from pathlib import Path

    kinds = {v for k, v in vars(StepKind).items() if k.isupper()}
    # Every kind the pipeline runs is one the planner can make, and no step kind is spelt out.
    for rel in ("repair/plan/planner.py", "repair/transaction/steps.py"):
        tree = ast.parse(Path(rel).read_text(encoding="utf-8"))
        used = {
            n.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id == "StepKind"
        }
        assert {getattr(StepKind, u) for u in used} == kinds, rel
        literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        assert not literals & kinds, f"{rel}: step kinds written as strings: {literals & kinds}"


def test_docs_name_their_id_and_say_what_why_how() -> None:
    for fid in all_finding_types():
        text = doc_text(fid) or ""
        assert text.startswith(f"# {fid}\n"), fid
        for part in ("What it means", "Why it matters", "How it is fixed"):
            assert part in text, f"{fid}: no '{part}'"


def test_contract_ids_are_registered() -> None:
    assert set(all_finding_types()) >= CONTRACT_IDS


def test_registry_refuses_bad_and_duplicate_ids() -> None:
    with pytest.raises(RegistryError):
        finding_type("Not_Kebab", "Title", Severity.ERROR, Fix.NONE)
    with pytest.raises(RegistryError):
        finding_type("venv-missing", "Again", Severity.ERROR, Fix.NONE)


def test_check_list_and_explain() -> None:
    listed = invoke("check", "--list")
    assert listed.exit_code == 0
    for fid in all_finding_types():
        assert re.search(rf"^{re.escape(fid)}\s", listed.output, re.M), fid
    shown = invoke("check", "--explain", "stale-residue")
    assert shown.exit_code == 0 and "~umpy" in shown.output
    bad = invoke("check", "--explain", "no-such-id")
    assert bad.exit_code == 2


def test_readme_lists_every_finding_id() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = sorted(fid for fid in all_finding_types() if f"`{fid}`" not in readme)
    assert missing == [], f"README's findings table lacks: {missing}"
