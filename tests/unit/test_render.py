"""The text a person reads: findings of one cause folded into one entry, the restart advice
once and only when the web UI runs, lines wrapped to the terminal's width, the finding docs as
text rather than Markdown."""

from __future__ import annotations

import re

import pytest

from repair.checks.docs import doc_text
from repair.checks.registry import all_finding_types
from repair.model import Finding, Fix, Report, Severity
from repair.render.docs import markdown_text
from repair.render.report import fold, report_text

NAMES = [f"package-{i:02d}" for i in range(39)]


def _unmet(name: str, installed: str | None = None) -> Finding:
    return Finding(
        "requirement-unmet",
        Severity.ERROR,
        name,
        f"{name} is required (requirements.txt:1: {name}==1.0) but not installed",
        f"run 'repair' to install it, or '/venv/bin/python -m pip install {name}'",
        Fix.REINSTALL,
        restart_required=True,
        details={"requirement": f"{name}==1.0", "installed": installed},
    )


def _report(findings: list[Finding], **extra: object) -> Report:
    target = {
        "dir": "/sd/webui",
        "venv": "/sd/webui/venv",
        "manifest": "a1111",
        "python": {"version": "3.10.6", "executable": "/sd/webui/venv/bin/python"},
        "backend": {"machine": None, "torch": None},
        "sources": {"manifest": "detected", "venv": "manifest"},
    }
    return Report(target=target, findings=findings, extra=dict(extra))


def _broken() -> Report:
    findings = [_unmet(n) for n in NAMES] + [
        _unmet("numpy", installed="2.1.0"),
        _unmet("einops", installed="0.3.0"),
    ]
    findings.append(
        Finding(
            "orphan-files",
            Severity.WARNING,
            "PIL",
            "'PIL' in site-packages belongs to no installed distribution (its metadata is gone)",
            "run 'repair' to remove it",
            Fix.REMOVE,
        )
    )
    return _report(findings)


def test_fold() -> None:
    assert fold(["a"]) == "a"
    assert fold(["a", "b"]) == "a and b"
    assert fold(["a", "b", "c", "d"]) == "a, b, c and d"
    assert fold([str(i) for i in range(39)]) == "0, 1, 2 and 36 more"


def test_one_cause_one_entry_with_its_list_folded() -> None:
    text = report_text(_broken())
    assert (
        "39 requirements are not installed: package-00==1.0, package-01==1.0, "
        "package-02==1.0 and 36 more"
    ) in text
    # the other kind of unmet requirement, apart
    assert (
        "2 requirements are installed at versions that do not fit: numpy==1.0 (has 2.1.0) "
        "and einops==1.0 (has 0.3.0)"
    ) in text
    assert text.count("requirement-unmet") == 2
    assert "fix: run 'repair' to install them" in text
    assert len(text.splitlines()) < 20


def test_verbose_shows_every_finding() -> None:
    text = report_text(_broken(), verbose=True)
    for name in NAMES:
        assert f"{name} is required" in text


def test_restart_advice_once_and_only_when_the_web_ui_runs() -> None:
    quiet = report_text(_broken())
    assert "restart" not in quiet.lower()
    running = report_text(_report(_broken().findings, running=["python (pid 4242)"]))
    assert running.lower().count("restart") == 1
    assert "python (pid 4242)" in running


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_lines_fit_the_terminal(width: int) -> None:
    report = _report(_broken().findings, running=["python (pid 4242)"])
    text = report_text(report, width=width, hint="Run 'repair --dry-run' to see what it would do.")
    for line in text.splitlines():
        words = line.split()
        # a single path or URL longer than the width overflows rather than breaks
        assert len(line) <= width or len(words) and max(map(len, words)) > width // 2, line
    assert "39 requirements are not installed" in text.replace("\n          ", " ")


def test_unwrapped_when_not_a_terminal() -> None:
    text = report_text(_broken(), width=0)
    assert any(len(line) > 120 for line in text.splitlines())  # whole lines for grep


@pytest.mark.parametrize("width", [0, 50, 80])
def test_every_finding_doc_renders_as_text(width: int) -> None:
    for fid in all_finding_types():
        md = doc_text(fid)
        assert md is not None
        text = markdown_text(md, width=width)
        assert not re.search(r"\*\*|`|^#", text, re.M), (fid, text)
        assert text.splitlines()[0] == fid
        if width:
            long = [
                line
                for line in text.splitlines()
                if len(line) > width
                and not line.startswith("    ")
                and max(map(len, line.split())) <= width // 2
            ]
            assert not long, (fid, long)
