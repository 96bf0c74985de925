"""Findings -> the smallest plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repair.app.target import resolve
from repair.context import Context
from repair.model import Finding, Fix, Severity
from repair.options import RepairOptions
from repair.plan.planner import make_plan
from repair.render.plan import plan_text


def ctx_for(tmp_path: Path, reqs: str = "numpy==1.26.4\nsafetensors\n", **options: Any) -> Context:
    (tmp_path / "requirements.txt").write_text(reqs)
    return Context(resolve(str(tmp_path), None, "generic"), RepairOptions(**options))


def finding(
    id: str, subject: str, fix: Fix, severity: Severity = Severity.ERROR, **details: object
) -> Finding:
    return Finding(id, severity, subject, "msg", "remedy", fix, details=dict(details))


def kinds(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.kind for s in plan.steps]


def test_healthy_means_nothing_to_do(tmp_path: Path) -> None:
    plan = make_plan(ctx_for(tmp_path), [])
    assert plan.empty and "Nothing to do" in plan_text(plan)


def test_broken_interpreter_recreates_and_installs_everything(tmp_path: Path) -> None:
    plan = make_plan(
        ctx_for(tmp_path),
        [
            finding("venv-interpreter-broken", "pyvenv.cfg", Fix.RECREATE_VENV),
            finding("missing-file", "numpy", Fix.REINSTALL),
        ],
    )
    assert kinds(plan) == ["recreate-venv", "install-requirements"]
    assert plan.steps[1].params["files"] == [str(tmp_path / "requirements.txt")]
    assert plan.replaces_files


def test_clean_venv_forces_recreate(tmp_path: Path) -> None:
    plan = make_plan(ctx_for(tmp_path, clean_venv=True, python="3.10"), [])
    assert kinds(plan) == ["recreate-venv", "install-requirements"]
    assert plan.steps[0].params["version"].startswith("3.10.")
    assert Path(plan.steps[0].params["python"]).is_file()
    assert plan.steps[0].params["python"] in plan_text(plan)  # the plan names the interpreter


def test_mixed_numpy_is_purged_then_force_reinstalled_at_the_required_version(
    tmp_path: Path,
) -> None:
    plan = make_plan(
        ctx_for(tmp_path),
        [
            finding(
                "orphan-files",
                "numpy",
                Fix.REINSTALL,
                Severity.WARNING,
                files=["numpy/_core/__init__.py"],
                count=1,
            ),
        ],
    )
    assert kinds(plan) == ["purge", "reinstall"]
    assert plan.steps[0].params["dists"]["numpy"]["tops"] == ["numpy"]
    assert plan.steps[1].params["requirements"] == ["numpy==1.26.4"]


def test_residue_is_removed_and_nothing_else(tmp_path: Path) -> None:
    plan = make_plan(
        ctx_for(tmp_path),
        [
            finding("stale-residue", "~umpy", Fix.REMOVE, path="/x/venv/lib/site-packages/~umpy"),
        ],
    )
    assert kinds(plan) == ["remove"]
    assert not plan.steps[0].params["paths"][0].endswith("numpy")


def test_only_the_broken_distribution_is_reinstalled(tmp_path: Path) -> None:
    plan = make_plan(
        ctx_for(tmp_path),
        [
            finding("missing-file", "safetensors", Fix.REINSTALL),
            finding("record-mismatch", "numpy", Fix.REINSTALL),
        ],
    )
    assert kinds(plan) == ["reinstall"]
    assert plan.steps[0].params["requirements"] == ["numpy==1.26.4", "safetensors"]


def test_unmet_requirement_installs_requirements_without_force(tmp_path: Path) -> None:
    plan = make_plan(
        ctx_for(tmp_path),
        [
            finding("requirement-unmet", "einops", Fix.REINSTALL, installed=None),
        ],
    )
    assert kinds(plan) == ["install-requirements"]
    assert not plan.steps[0].params["force_reinstall"]
    assert not plan.replaces_files  # only adds: allowed under a running app (then exit 3)


def test_reinstall_option_reinstalls_everything(tmp_path: Path) -> None:
    plan = make_plan(ctx_for(tmp_path, reinstall=True), [])
    assert kinds(plan) == ["install-requirements"]
    assert plan.steps[0].params["force_reinstall"]


def test_manual_findings_are_listed_not_planned(tmp_path: Path) -> None:
    f = finding("requirement-invalid", "requirements.txt:3", Fix.MANUAL)
    plan = make_plan(ctx_for(tmp_path), [f])
    assert plan.empty and plan.unresolved == (f,)
    assert "Not fixed automatically" in plan_text(plan)


def test_reclone_step_when_asked(tmp_path: Path) -> None:
    plan = make_plan(ctx_for(tmp_path, reclone=True), [])
    assert kinds(plan) == ["reclone"]


def test_plan_is_json_data(tmp_path: Path) -> None:
    import json

    plan = make_plan(ctx_for(tmp_path, clean_venv=True), [])
    data = json.loads(json.dumps(plan.to_json()))
    assert data[0]["kind"] == "recreate-venv" and "summary" in data[0]
