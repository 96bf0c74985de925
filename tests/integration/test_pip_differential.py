"""pip as the oracle: the tool's reading of requirements files and of installed metadata, beside
pip 26's own (``pip._internal.req.req_file.parse_requirements`` and ``pip check``'s functions,
run by the venv's python in ONE subprocess per corpus; see tests/pip_oracle.py).

Agreement is asserted on every case, except for the documented classes below, where the tool is
knowingly different; each class has its reason.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from repair.app.reqfiles import parse_file
from repair.app.reqlines import index_urls
from tests.integration.reqcorpus import (
    FIELD_CASES,
    PIP_CASES,
    generated_cases,
    generated_envs,
    write_case,
    write_env,
)
from tests.kit import pip_env, venv_python

ORACLE = Path(__file__).resolve().parents[1] / "pip_oracle.py"

# Where the tool differs from pip on purpose (class -> reason).
KNOWN = {
    # Environments
    "extras": "the tool evaluates Requires-Dist for the extras other packages (or the app) ask "
    "for; pip check ignores them (pip issue #4086), so the tool reports more, "
    "correctly",
    "unparsable": "pip check drops a distribution with an unreadable Requires-Dist line (and "
    "then calls it missing for whoever needs it); the tool reports the line as "
    "requires-dist-invalid and checks the distribution's other lines",
    "egg-section-dropped": "pip's pkg_resources backend (its default below Python 3.11) silently "
    "drops a requires.txt section whose marker cannot be read; its "
    "importlib backend reports it as the tool does",
}


def _oracle(python: Path, job: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    proc = subprocess.run(
        [str(python), str(ORACLE)],
        input=json.dumps(job),
        text=True,
        capture_output=True,
        env=env or pip_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _norm_marker(text: str | None) -> str | None:
    from packaging.markers import Marker

    return None if text is None else str(Marker(text))


def _norm_spec(text: str) -> str:
    from packaging.specifiers import SpecifierSet

    return str(SpecifierSet(text))


def _tool_entries(
    top: Path, cwd: Path, constraint: bool
) -> tuple[bool, list[dict[str, Any]], list[str]]:
    from repair.env.dists import canonical

    result = parse_file(top, constraint=constraint, cwd=cwd)
    entries = []
    for line in result.lines:
        if line.error is not None:
            continue
        req = line.requirement
        entries.append(
            {
                "name": canonical(req.name) if req is not None else None,
                "specifier": str(req.specifier) if req is not None else "",
                "extras": sorted(line.extras),
                "marker": str(line.marker) if line.marker is not None else None,
                "url": line.url,
                "editable": line.editable,
                "constraint": line.constraint,
            }
        )
    return bool(result.errors), entries, index_urls(result.options)


def _pip_entries(answer: dict[str, Any]) -> list[dict[str, Any]]:
    from repair.env.dists import canonical

    return [
        {
            "name": canonical(e["name"]) if e["name"] else None,
            "specifier": _norm_spec(e["specifier"]),
            "extras": sorted(canonical(x) for x in e["extras"]),
            "marker": _norm_marker(e["marker"]),
            "url": e["url"],
            "editable": e["editable"],
            "constraint": e["constraint"],
        }
        for e in answer["reqs"]
    ]


def test_requirements_files_agree_with_pip(
    tmp_path: Path, template_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = PIP_CASES + FIELD_CASES + generated_cases(460)
    assert len(cases) >= 500
    env_vars: dict[str, str] = {}
    jobs = []
    for i, case in enumerate(cases):
        root = tmp_path / f"c{i:03d}"
        top = write_case(case, root)
        jobs.append({"path": str(top), "cwd": str(root), "constraint": case.constraint})
        env_vars.update(case.env)
    for key, value in env_vars.items():
        monkeypatch.setenv(key, value)
    answers = _oracle(venv_python(template_venv), {"files": jobs}, pip_env(extra=env_vars))
    tally: Counter[str] = Counter()
    wrong = []
    for case, job, answer in zip(cases, jobs, answers, strict=True):
        tool_error, tool, indexes = _tool_entries(
            Path(job["path"]), Path(job["cwd"]), case.constraint
        )
        pip_error = answer["error"] is not None
        if tool_error != pip_error:
            wrong.append(f"{case.name}: tool error={tool_error}, pip: {answer['error']}")
        elif not pip_error and tool != _pip_entries(answer):
            wrong.append(f"{case.name}: tool {tool} != pip {_pip_entries(answer)}")
        elif not pip_error and indexes != answer["index_urls"]:
            wrong.append(f"{case.name}: tool indexes {indexes} != pip {answer['index_urls']}")
        else:
            tally["agree"] += 1
    print(f"requirements files: {len(cases)}, agree: {tally['agree']}, differ: {len(wrong)}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("backend", ["pkg_resources", "importlib"])
def test_environments_agree_with_pip_check(
    tmp_path: Path, template_venv: Path, backend: str
) -> None:
    """Both of pip's metadata backends (pkg_resources is the default below Python 3.11)."""
    from repair.env.dists import scan_site
    from repair.env.interp import probe
    from repair.env.requires import (
        bad_requires,
        requested_extras,
        unmet_dependencies,
        unsupported_wheels,
    )
    from repair.index.tags import target_from_interpreter

    envs = generated_envs(60)
    sites = [
        write_env(dists, tmp_path / f"e{i:02d}" / "site-packages") for i, dists in enumerate(envs)
    ]
    python = venv_python(template_venv)
    flag = "1" if backend == "importlib" else "0"
    answers = _oracle(
        python,
        {"envs": [str(s) for s in sites]},
        pip_env(extra={"_PIP_USE_IMPORTLIB_METADATA": flag}),
    )
    info = probe(python)
    tags = target_from_interpreter(info).tags()
    tally: Counter[str] = Counter()
    wrong = []
    for site, answer in zip(sites, answers, strict=True):
        installed = scan_site(site).installed()
        wanted = requested_extras(installed, info.markers)
        unmet = unmet_dependencies(installed, info.markers, wanted)
        plain = unmet_dependencies(installed, info.markers)
        bad = {b.dist.key for b in bad_requires(installed)}
        tool_missing = {(u.dist.key, _key(u.requirement.name)) for u in unmet if u.target is None}
        tool_conflict = {
            (u.dist.key, _key(u.requirement.name)) for u in unmet if u.target is not None
        }
        plain_all = {(u.dist.key, _key(u.requirement.name)) for u in plain}
        pip_missing = {tuple(x) for x in answer["missing"]}
        pip_conflict = {tuple(x) for x in answer["conflicting"]}
        diffs: list[tuple[str, object]] = []
        for kind, mine, theirs in (
            ("missing", tool_missing, pip_missing),
            ("conflicting", tool_conflict, pip_conflict),
        ):
            for item in mine - theirs:
                if item[0] in bad or item[1] in bad:
                    diffs.append(("unparsable", item))
                elif item not in plain_all:
                    diffs.append(("extras", item))
                else:
                    diffs.append((f"tool-only {kind}", item))
            for item in theirs - mine:
                if item[0] in bad or item[1] in bad:
                    diffs.append(("unparsable", item))
                else:
                    diffs.append((f"pip-only {kind}", item))
        tool_unsupported = {d.key for d in unsupported_wheels(installed, tags)}
        if tool_unsupported != set(answer["unsupported"]):
            diffs.append(("unsupported", (sorted(tool_unsupported), answer["unsupported"])))
        if bool(bad) != answer["problems"]:
            eggs = all(installed[k].kind == "egg-info" for k in bad)
            kind = (
                "egg-section-dropped"
                if eggs and backend == "pkg_resources"
                else "unparsable-report"
            )
            diffs.append((kind, (sorted(bad), answer["problems"])))
        tally["pip reports"] += len(pip_missing) + len(pip_conflict) + len(answer["unsupported"])
        tally["unsupported"] += len(answer["unsupported"])
        classes = {c for c, _ in diffs}
        tally.update(classes or {"agree"})
        unexplained = [d for d in diffs if d[0] not in KNOWN]
        if unexplained:
            wrong.append(f"{site}: {unexplained}")
    print(f"environments ({backend}): {len(envs)}, by class: {dict(tally)}")
    assert tally["agree"] >= 25
    assert wrong == [], "\n".join(wrong)


def _key(name: str) -> str:
    from repair.env.dists import canonical

    return canonical(name)
