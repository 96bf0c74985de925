"""The preflight against a real HTTP index on 127.0.0.1 serving real wheels."""

from __future__ import annotations

import io
import json
import os
import socket
import time
from pathlib import Path

import pytest

from repair.index.client import IndexClient, IndexUnreachable
from repair.index.config import isolated_config
from repair.index.preflight import preflight
from repair.progress import StreamReporter
from tests.localindex import SECRET, USER, LocalIndex, build_sdist, build_wheel

WIN312 = {"version": "3.12.4", "sys_platform": "win32", "platform": "win_amd64"}
WIN310 = {"version": "3.10.6", "sys_platform": "win32", "platform": "win_amd64"}
LINUX310 = {
    "version": "3.10.12",
    "sys_platform": "linux",
    "platform": "linux_x86_64",
    "glibc": "2.35",
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No machine pip configuration, no proxies, a cache of the test's own."""
    for name in list(os.environ):
        if name.startswith("PIP_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    cache = tmp_path / "cache"
    monkeypatch.setenv("REPAIR_INDEX_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pypi")
    for py in ("cp310", "cp311"):
        build_wheel(d, "torch", "2.1.2", f"{py}-{py}-win_amd64")
        build_wheel(d, "torch", "2.1.2", f"{py}-{py}-manylinux1_x86_64")
    build_wheel(d, "torch", "2.0.0", "cp310-cp310-win_amd64")
    build_wheel(d, "torch", "2.2.0", "cp312-cp312-win_amd64")
    build_wheel(d, "oldlib", "1.0")
    build_wheel(d, "oldlib", "1.1")
    build_sdist(d, "srconly", "0.5")
    build_wheel(d, "numpyish", "1.0", "cp310-cp310-win_amd64")
    build_sdist(d, "numpyish", "1.0")
    build_wheel(d, "newlib", "1.0")
    build_wheel(d, "newlib", "2.0")
    build_wheel(d, "purelib", "1.0")
    build_wheel(d, "purelib", "1.1")
    build_wheel(d, "winonly", "1.0", "py3-none-win_amd64")
    return d


@pytest.fixture(scope="module")
def torch_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cu121")
    for py in ("cp310", "cp311"):
        build_wheel(d, "torch", "2.1.2+cu121", f"{py}-{py}-win_amd64")
    return d


@pytest.fixture
def index(wheels: Path):
    with LocalIndex(wheels, slow_seconds=2.0, fail_times=2) as idx:
        idx.yanked["oldlib-1.0-py3-none-any.whl"] = "broken on import"
        idx.requires_python["newlib-2.0-py3-none-any.whl"] = ">=3.11"
        yield idx


@pytest.fixture
def torch_index(torch_wheels: Path):
    with LocalIndex(torch_wheels) as idx:
        yield idx


def ids(result) -> list[tuple[str, str]]:
    return sorted((f.id, f.subject) for f in result.findings)


def test_json_and_html_pages_agree(index):
    client = IndexClient(isolated_config(), cache_dir=False)
    as_json = client.project_page(index.simple(), "oldlib")
    as_html = client.project_page(index.simple("/html"), "oldlib")
    key = lambda p: sorted(  # noqa: E731
        (f.filename, f.yanked, f.yanked_reason, f.requires_python) for f in p.files
    )
    assert key(as_json) == key(as_html)
    assert ("oldlib-1.0-py3-none-any.whl", True, "broken on import", None) in key(as_json)
    assert index.status[200] == 2
    newlib = client.project_page(index.simple("/html"), "newlib")
    assert {f.filename: f.requires_python for f in newlib.files}[
        "newlib-2.0-py3-none-any.whl"
    ] == ">=3.11"
    assert not client.project_page(index.simple(), "nosuchpkg").found


def test_a_healthy_set_has_no_findings(index):
    r = preflight(
        [
            "purelib",
            "oldlib>=1.0",
            "newlib",
            "numpyish==1.0",
            "torch==2.1.2",
            'winonly; sys_platform == "win32"',
        ],
        WIN310,
        isolated_config(index_url=index.simple()),
        reporter=None,
    )
    assert r.findings == () and r.can_finish and r.online
    chosen = {c.name: c.version for c in r.checked}
    assert chosen == {
        "purelib": "1.1",
        "oldlib": "1.1",
        "newlib": "1.0",
        "numpyish": "1.0",
        "torch": "2.1.2",
        "winonly": "1.0",
    }
    assert all(c.wheel for c in r.checked)


def test_torch_pin_without_wheels_for_python_312(index):
    r = preflight(["torch==2.1.2"], WIN312, isolated_config(index_url=index.simple()))
    (f,) = r.findings
    assert f.id == "wheel-unavailable" and f.subject == "torch"
    assert f.details["working_pythons"] == ["3.10", "3.11"]
    assert "3.10, 3.11" in f.message and "cp312-win_amd64" in f.message
    assert not r.can_finish


def test_requires_python_excludes_a_version(index):
    r = preflight(["newlib==2.0"], WIN310, isolated_config(index_url=index.simple("/html")))
    (f,) = r.findings
    assert f.id == "wheel-unavailable"
    assert f.details["working_pythons"] == ["3.11", "3.12", "3.13", "3.14"]


def test_missing_project_and_unknown_version(index):
    r = preflight(["nosuchpkg", "purelib==9.9"], WIN310, isolated_config(index_url=index.simple()))
    assert ids(r) == [("wheel-unavailable", "nosuchpkg"), ("wheel-unavailable", "purelib")]
    msg = {f.subject: f.message for f in r.findings}
    assert "no project named nosuchpkg" in msg["nosuchpkg"]
    assert "1.1, 1.0" in msg["purelib"]


def test_yanked_pin(index):
    r = preflight(["oldlib==1.0"], LINUX310, isolated_config(index_url=index.simple()))
    (f,) = r.findings
    assert f.id == "yanked-pin" and "broken on import" in f.message
    assert "1.1" in f.remedy
    assert r.can_finish  # pip installs a yanked pin, with a warning


def test_source_builds(index):
    r = preflight(["srconly", "numpyish==1.0"], WIN312, isolated_config(index_url=index.simple()))
    assert ids(r) == [("source-build-required", "numpyish"), ("source-build-required", "srconly")]
    numpyish = next(f for f in r.findings if f.subject == "numpyish")
    assert numpyish.details["wheel_pythons"] == ["3.10"]
    assert r.can_finish


def test_markers_are_evaluated_for_the_target(index):
    r = preflight(
        ['winonly; sys_platform == "win32"', "purelib"],
        LINUX310,
        isolated_config(index_url=index.simple()),
    )
    assert r.skipped == ('winonly; sys_platform == "win32"',)
    assert [c.name for c in r.checked] == ["purelib"]
    r = preflight(["winonly"], LINUX310, isolated_config(index_url=index.simple()))
    assert ids(r) == [("wheel-unavailable", "winonly")]


def test_torch_from_the_backend_index_and_the_silent_cpu_fallback(index, torch_index):
    cfg = isolated_config(index_url=index.simple())
    ok = preflight(["torch==2.1.2"], WIN310, cfg, torch_index=torch_index.simple())
    assert ok.findings == ()
    (torch,) = ok.checked
    assert torch.version == "2.1.2+cu121" and torch.source == torch_index.simple()
    # The backend's index never carried 2.0.0: pip would quietly take PyPI's build.
    bad = preflight(["torch==2.0.0"], WIN310, cfg, torch_index=torch_index.simple())
    (f,) = bad.findings
    assert f.id == "torch-index-fallback" and not bad.can_finish
    assert f.details["chosen"] == "torch-2.0.0-cp310-cp310-win_amd64.whl"
    assert torch_index.simple() in f.message
    # only torch packages go to the torch index
    preflight(["purelib"], WIN310, cfg, torch_index=torch_index.simple())
    assert not any("purelib" in p for p in torch_index.hits)


def test_slow_index_times_out(index):
    cfg = isolated_config(index_url=index.simple("/slow"), timeout=0.3, retries=0)
    started = time.monotonic()
    r = preflight(["purelib"], WIN310, cfg)
    assert time.monotonic() - started < index.slow_seconds
    (f, info) = r.findings
    assert f.id == "index-unreachable" and "timed out" in f.message
    assert info.id == "preflight-unchecked"
    assert [u.requirement for u in r.unchecked] == ["purelib"]


def test_retries_then_success(index):
    r = preflight(["purelib"], WIN310, isolated_config(index_url=index.simple("/flaky"), retries=3))
    assert r.findings == () and r.checked[0].version == "1.1"
    assert index.hits["/flaky/simple/purelib/"] == 3  # two 503s, then the page


def test_retries_then_failure(index):
    cfg = isolated_config(
        index_url=index.simple(), extra_index_urls=(index.simple("/down"),), retries=2
    )
    r = preflight(["purelib", "nosuchpkg"], WIN310, cfg)
    tried = [n for path, n in index.hits.items() if path.startswith("/down/")]
    assert tried and all(n == 3 for n in tried)  # each page: once, then two retries
    down = next(f for f in r.findings if f.id == "index-unreachable")
    assert down.severity.value == "error"  # nosuchpkg might have been there
    assert "retries" in down.message
    assert [u.requirement for u in r.unchecked] == ["nosuchpkg"]
    assert [c.version for c in r.checked] == ["1.1"]


def test_unreachable_extra_index_is_a_warning_when_nothing_needed_it(index):
    cfg = isolated_config(
        index_url=index.simple(), extra_index_urls=(index.simple("/down"),), retries=0
    )
    r = preflight(["purelib"], WIN310, cfg)
    (f,) = r.findings
    assert (f.id, f.severity.value) == ("index-unreachable", "warning") and r.can_finish


def test_etag_round_trip_makes_the_second_preflight_nearly_free(index, isolated):
    reqs = ["purelib", "oldlib", "newlib", "torch==2.1.2", "numpyish==1.0"]
    cfg = isolated_config(index_url=index.simple())
    cold = preflight(reqs, WIN310, cfg)
    assert cold.stats["requests"] == 5 and cold.stats["bytes"] > 0
    assert index.status[200] == 5 and list(isolated.rglob("*.json"))
    warm = preflight(reqs, WIN310, cfg)
    assert warm.stats["not_modified"] == 5 and warm.stats["bytes"] == 0
    assert index.status[304] == 5
    assert [c.to_json() for c in warm.checked] == [c.to_json() for c in cold.checked]
    # no cache: every page again in full
    preflight(reqs, WIN310, cfg, cache_dir=False)
    assert index.status[200] == 10


def test_max_age_answers_from_the_cache_without_asking(index):
    index.max_age = 600
    cfg = isolated_config(index_url=index.simple())
    preflight(["purelib"], WIN310, cfg)
    again = preflight(["purelib"], WIN310, cfg)
    assert again.stats == {"requests": 0, "not_modified": 0, "fresh": 1, "bytes": 0}
    assert sum(index.hits.values()) == 1 and again.checked[0].version == "1.1"


def test_credentials_in_urls_are_used_and_never_shown(index, isolated):
    private = index.simple("/private").replace("http://", f"http://{USER}:{SECRET}@")
    down = index.simple("/down").replace("http://", f"http://{USER}:{SECRET}@")
    cfg = isolated_config(index_url=private, extra_index_urls=(down,), retries=0)
    out = io.StringIO()
    r = preflight(
        ["purelib", "nosuchpkg"], WIN310, cfg, reporter=StreamReporter(out), torch_index=down
    )
    assert r.checked[0].version == "1.1"
    assert index.auth_seen  # the credentials reached the server
    shown = json.dumps(r.to_json()) + out.getvalue() + repr(r) + json.dumps(cfg.to_json())
    shown += "".join(p.read_text() for p in isolated.rglob("*.json"))
    assert SECRET not in shown and "****@127.0.0.1" in shown
    wrong = isolated_config(index_url=index.simple("/private"), retries=0)
    r = preflight(["purelib"], WIN310, wrong)
    assert "HTTP 401" in r.findings[0].message


def test_offline_uses_only_local_sources(index, tmp_path):
    links = tmp_path / "links"
    build_wheel(links, "purelib", "1.0")
    cfg = isolated_config(index_url=index.simple(), find_links=(str(links),))
    r = preflight(
        ["purelib", "torch==2.1.2"], WIN310, cfg, offline=True, torch_index=index.simple("/down")
    )
    assert sum(index.hits.values()) == 0
    assert not r.online and r.can_finish
    assert [(c.name, c.version) for c in r.checked] == [("purelib", "1.0")]
    assert [u.requirement for u in r.unchecked] == ["torch==2.1.2"]
    assert ids(r) == [("preflight-unchecked", "preflight")]
    assert {s.url: s.asked for s in r.sources} == {
        index.simple(): False,
        str(links): True,
        index.simple("/down"): False,
    }


def test_no_network_is_a_state(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = isolated_config(index_url=f"http://127.0.0.1:{port}/simple/", retries=0, timeout=2)
    r = preflight(["purelib"], WIN310, cfg)
    assert not r.online and r.can_finish
    assert [(f.id, f.severity.value) for f in r.findings] == [
        ("index-unreachable", "info"),
        ("preflight-unchecked", "info"),
    ]


def test_file_index_and_find_links_folder(tmp_path):
    simple = tmp_path / "simple"
    build_wheel(simple / "purelib", "purelib", "2.0")
    (simple / "other").mkdir()
    (simple / "other" / "index.html").write_text(
        '<a href="../../files/other-3.0-py3-none-any.whl" data-yanked="">x</a>'
        '<a href="../../files/other-2.0-py3-none-any.whl">x</a>',
        encoding="utf-8",
    )
    links = tmp_path / "links"
    build_wheel(links, "purelib", "2.5", "cp310-cp310-win_amd64")
    build_wheel(links, "purelib", "3.0", "cp311-cp311-win_amd64")
    cfg = isolated_config(index_url=simple.as_uri(), find_links=(str(links),))
    r = preflight(["purelib", "other", "missing"], WIN310, cfg)
    assert [(c.name, c.version) for c in r.checked] == [
        ("purelib", "2.5"),
        ("other", "2.0"),
        ("missing", None),
    ]
    assert ids(r) == [("wheel-unavailable", "missing")]


def test_bad_requirement_strings_are_unchecked_not_crashes(index):
    r = preflight(
        ["purelib", "not a requirement ==", "x @ https://h.example/x.whl"],
        WIN310,
        isolated_config(index_url=index.simple()),
    )
    assert len(r.unchecked) == 2 and r.checked[0].name == "purelib"


def test_client_raises_one_error_type(tmp_path):
    client = IndexClient(isolated_config(), cache_dir=False)
    with pytest.raises(IndexUnreachable):
        client.find_links_page(str(tmp_path / "nope"))


@pytest.mark.slow
def test_the_choice_agrees_with_pip(index, torch_index, tmp_path):
    """Real pip, same index, same interpreter: the preflight picks the files pip picks."""
    import sys

    from repair import proc
    from repair.env.interp import probe
    from repair.index.tags import target_from_interpreter

    reqs = ["purelib", "oldlib", "newlib", "torch==2.1.2", "numpyish"]
    env = proc.clean_env(keep_pip=False)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(tmp_path / "pipcache"),
        NO_PROXY="127.0.0.1",
    )
    res = proc.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--report",
            "-",
            "-q",
            "--ignore-installed",
            "--no-deps",
            "--only-binary",
            "numpyish",
            "--index-url",
            index.simple(),
            "--extra-index-url",
            torch_index.simple(),
            *[r for r in reqs if r != "numpyish"],
        ],
        env=env,
        timeout=120,
        check=True,
    )
    pip_chose = {
        i["metadata"]["name"]: i["metadata"]["version"] for i in json.loads(res.stdout)["install"]
    }
    target = target_from_interpreter(probe(Path(sys.executable)))
    cfg = isolated_config(index_url=index.simple(), extra_index_urls=(torch_index.simple(),))
    r = preflight(reqs, target, cfg)
    ours = {c.name: c.version for c in r.checked if c.version}
    assert ours == {**pip_chose, "numpyish": "1.0"}
    if sys.platform.startswith("linux") and sys.version_info[:2] in ((3, 10), (3, 11)):
        assert pip_chose["torch"] == "2.1.2"  # the cu121 index has only Windows wheels
        assert [f.id for f in r.findings] == ["source-build-required"]  # numpyish, an sdist
