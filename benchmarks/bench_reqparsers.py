"""The tool's requirements-file reader and the libraries that parse pip requirements files
(pip-api, requirements-parser, pip-requirements-parser), each against pip itself, on the corpus
of the differential tests (pip's own test cases, the field cases, generated files).

Standalone: ``python benchmarks/bench_reqparsers.py --pip-python P --libs-python L``, where P is
a python whose environment has pip 26 and L one that has the three libraries installed
(``pip install pip-api requirements-parser pip-requirements-parser``). Files read as constraints
are left out (the libraries have no such mode). A file agrees when both stop on it, or neither
does and they give the same (name, specifier) pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repair.app.reqfiles import parse_file  # noqa: E402
from tests.integration.reqcorpus import (  # noqa: E402
    FIELD_CASES,
    PIP_CASES,
    generated_cases,
    write_case,
)

LIBS = r"""
import json, os, re, sys

def canon(n):
    return re.sub(r"[-_.]+", "-", n).lower() if n else ""

def pip_api_reqs(path):
    import pip_api
    return [[canon(n), str(getattr(r, "specifier", "") or "")]
            for n, r in pip_api.parse_requirements(path).items()]

def requirements_parser_reqs(path):
    import requirements
    with open(path, encoding="utf-8") as f:
        return [[canon(r.name), ",".join(op + v for op, v in r.specs)]
                for r in requirements.parse(f)]

def prp_reqs(path):
    from pip_requirements_parser import RequirementsFile
    rf = RequirementsFile.from_file(path, include_nested=True)
    if rf.invalid_lines:
        raise ValueError(rf.invalid_lines[0])
    return [[canon(r.name), str(r.specifier or "")] for r in rf.requirements]

out = {}
jobs = json.load(sys.stdin)
for lib, fn in (("pip-api", pip_api_reqs), ("requirements-parser", requirements_parser_reqs),
                ("pip-requirements-parser", prp_reqs)):
    answers = []
    for job in jobs:
        os.chdir(job["cwd"])
        try:
            answers.append({"error": False, "reqs": fn(job["path"])})
        except BaseException:
            answers.append({"error": True, "reqs": []})
    out[lib] = answers
print(json.dumps(out))
"""


def _canon(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if name else ""


def _norm(pairs: list[list[str]]) -> list[tuple[str, str]]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    out = []
    for name, spec in pairs:
        try:
            spec = str(SpecifierSet(spec)) if spec else ""
        except InvalidSpecifier:
            pass
        out.append((_canon(name), spec))
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pip-python", required=True)
    parser.add_argument("--libs-python", required=True)
    args = parser.parse_args()
    cases = [c for c in PIP_CASES + FIELD_CASES + generated_cases(460) if not c.constraint]
    with tempfile.TemporaryDirectory() as tmp:
        jobs: list[dict[str, Any]] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        for i, case in enumerate(cases):
            root = Path(tmp) / f"c{i:03d}"
            jobs.append({"path": str(write_case(case, root)), "cwd": str(root)})
            env.update(case.env)
        os.environ.update({k: v for c in cases for k, v in c.env.items()})
        oracle = ROOT / "tests" / "pip_oracle.py"
        pip = json.loads(
            subprocess.run(
                [args.pip_python, str(oracle)],
                text=True,
                env=env,
                input=json.dumps({"files": jobs}),
                capture_output=True,
                check=True,
            ).stdout
        )
        libs = json.loads(
            subprocess.run(
                [args.libs_python, "-c", LIBS],
                text=True,
                env=env,
                input=json.dumps(jobs),
                capture_output=True,
                check=True,
            ).stdout
        )
        truth = [
            (a["error"] is not None, _norm([[e["name"], e["specifier"]] for e in a["reqs"]]))
            for a in pip
        ]
        tool = []
        for job in jobs:
            result = parse_file(Path(job["path"]), cwd=Path(job["cwd"]))
            tool.append(
                (
                    bool(result.errors),
                    _norm(
                        [
                            [
                                line.name or "",
                                str(line.requirement.specifier) if line.requirement else "",
                            ]
                            for line in result.lines
                            if line.error is None
                        ]
                    ),
                )
            )
        rows = {"repair (this tool)": tool}
        for lib, answers in libs.items():
            rows[lib] = [(a["error"], _norm(a["reqs"]) if not a["error"] else []) for a in answers]
        print(f"{len(cases)} requirements files, pip as the oracle")
        print(f"{'reader':26} {'agree':>6} {'stops differ':>13} {'reads differ':>13}")
        for name, answers in rows.items():
            tally: Counter[str] = Counter()
            for (p_err, p_reqs), (a_err, a_reqs) in zip(truth, answers, strict=True):
                tally[
                    "stops"
                    if p_err != a_err
                    else "reads"
                    if not p_err and p_reqs != a_reqs
                    else "agree"
                ] += 1
            print(f"{name:26} {tally['agree']:>6} {tally['stops']:>13} {tally['reads']:>13}")


if __name__ == "__main__":
    main()
