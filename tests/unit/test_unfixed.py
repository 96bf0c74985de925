"""A repair that ends with the errors it set out to fix is not a success."""

from __future__ import annotations

from repair.model import Finding, Fix, Plan, Report, Severity, Step
from repair.transaction.pipeline import unfixed_errors


def _f(fid: str, subject: str, severity: Severity = Severity.ERROR) -> Finding:
    return Finding(fid, severity, subject, "m", "r", Fix.REINSTALL)


def test_same_error_after_the_plan_is_unfixed() -> None:
    before = Report(
        {},
        [_f("missing-file", "antlr4-python3-runtime"), _f("pip-missing", "pip", Severity.WARNING)],
    )
    after = Report({}, [_f("missing-file", "antlr4-python3-runtime")])
    plan = Plan((Step("reinstall", "reinstall antlr4-python3-runtime"),))
    assert [f.subject for f in unfixed_errors(before, after, plan)] == ["antlr4-python3-runtime"]


def test_fixed_or_never_planned_errors_are_not_unfixed() -> None:
    manual = _f("repo-corrupt", "app")
    before = Report({}, [_f("mixed-version", "numpy"), manual])
    after = Report({}, [manual])
    plan = Plan((Step("purge", "p"),), unresolved=(manual,))
    assert unfixed_errors(before, after, plan) == []
    assert unfixed_errors(before, before, Plan()) == []
