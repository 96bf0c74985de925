"""pip's own answers, for the differential tests: run as a script by a venv's python (the tool
never imports pip). Reads one JSON job from stdin, prints one JSON answer on stdout.

Job ``{"files": [{"path": P, "cwd": D, "constraint": bool}, ...]}``: each requirements file read
by ``pip._internal.req.req_file.parse_requirements`` and turned into install requirements the way
``pip install -r`` does; per file ``{"error": str|null, "reqs": [...], "index_urls": [...]}``.

Job ``{"envs": [SITE, ...]}``: what ``pip check`` reports for each site-packages folder (pip's
own check functions, with pip's environment pointed at that folder); per folder
``{"missing": [[who, what], ...], "conflicting": [[who, what], ...], "unsupported": [name, ...],
"problems": bool}`` (canonical names).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
from typing import Any


def _req_entry(ireq: Any, editable: bool, constraint: bool) -> dict[str, Any]:
    req = ireq.req
    markers = ireq.markers
    return {
        "name": req.name if req is not None else None,
        "specifier": str(req.specifier) if req is not None else "",
        "extras": sorted(ireq.extras) if ireq.extras else sorted(req.extras) if req else [],
        "marker": str(markers) if markers is not None else None,
        "url": ireq.link.url if ireq.link is not None else None,
        "editable": editable,
        "constraint": constraint,
    }


def read_files(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from pip._internal.index.collector import LinkCollector
    from pip._internal.index.package_finder import PackageFinder
    from pip._internal.models.search_scope import SearchScope
    from pip._internal.models.selection_prefs import SelectionPreferences
    from pip._internal.network.session import PipSession
    from pip._internal.req.constructors import install_req_from_parsed_requirement
    from pip._internal.req.req_file import parse_requirements

    session = PipSession()
    out = []
    for job in jobs:
        os.chdir(job["cwd"])
        finder = PackageFinder.create(
            LinkCollector(session, SearchScope.create([], [], no_index=False)),
            SelectionPreferences(allow_yanked=True),
        )
        with contextlib.suppress(ImportError):  # pip >= 26: as `pip install` sets it up
            from pip._internal.models.release_control import ReleaseControl

            finder.set_release_control(ReleaseControl())
        entry: dict[str, Any] = {"error": None, "reqs": []}
        try:
            for parsed in parse_requirements(
                job["path"], session, finder=finder, constraint=job.get("constraint", False)
            ):
                ireq = install_req_from_parsed_requirement(parsed)
                entry["reqs"].append(_req_entry(ireq, parsed.is_editable, parsed.constraint))
        except Exception as exc:  # noqa: BLE001 - every way pip stops is an answer
            entry["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        entry["index_urls"] = list(finder.index_urls)
        out.append(entry)
    return out


def check_envs(sites: list[str]) -> list[dict[str, Any]]:
    import pip._internal.operations.check as check
    from pip._internal.metadata import get_environment
    from pip._internal.utils.compatibility_tags import get_supported

    supported = get_supported()
    out = []
    for site in sites:
        env = get_environment([site])
        check.get_default_environment = lambda env=env: env  # type: ignore[assignment]
        package_set, problems = check.create_package_set_from_installed()
        missing, conflicting = check.check_package_set(package_set)
        unsupported = list(
            check.check_unsupported(env.iter_installed_distributions(local_only=False), supported)
        )
        out.append(
            {
                "missing": sorted(
                    {(str(name), str(dep[0])) for name in missing for dep in missing[name]}
                ),
                "conflicting": sorted(
                    {(str(name), str(c[0])) for name in conflicting for c in conflicting[name]}
                ),
                "unsupported": sorted(str(p.canonical_name) for p in unsupported),
                "problems": problems,
            }
        )
    return out


def main() -> None:
    job = json.load(sys.stdin)
    logging.disable(logging.CRITICAL)  # pip's warnings are not answers
    with contextlib.redirect_stdout(io.StringIO()):
        answer: Any = read_files(job["files"]) if "files" in job else check_envs(job["envs"])
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
