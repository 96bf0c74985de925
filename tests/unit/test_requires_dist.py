"""Installed metadata read as pip check reads it: unreadable lines, markers in any spacing,
wheels for another platform."""

from __future__ import annotations

from pathlib import Path

from repair.env.dists import scan_site
from repair.env.requires import bad_requires, unmet_dependencies, unsupported_wheels
from repair.index.tags import target_from

ENV = {
    "python_version": "3.10",
    "python_full_version": "3.10.6",
    "sys_platform": "linux",
    "os_name": "posix",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def dist(
    site: Path, name: str, version: str, requires: list[str], tags: list[str] | None = None
) -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = [f"Name: {name}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n")
    (folder / "RECORD").write_text("")
    if tags is not None:
        (folder / "WHEEL").write_text("Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags))


def test_markers_without_spaces_or_with_tabs_are_evaluated(tmp_path: Path) -> None:
    dist(
        tmp_path,
        "app",
        "1.0",
        [
            'numpy<2; extra == "gpu"or sys_platform == "linux"',
            'torch; extra\t==\t"gpu"\tor\tos_name == "posix"',
            'never; extra == "gpu"',
        ],
    )
    dist(tmp_path, "numpy", "2.1.0", [])
    unmet = unmet_dependencies(scan_site(tmp_path).installed(), ENV)
    assert sorted((u.requirement.name, u.target is None) for u in unmet) == [
        ("numpy", False),
        ("torch", True),
    ]


def test_unparsable_requires_dist_is_reported_with_its_line(tmp_path: Path) -> None:
    dist(tmp_path, "old", "0.1", ["foo (>=1.0", "numpy"])
    installed = scan_site(tmp_path).installed()
    bad = bad_requires(installed)
    assert [(b.dist.name, b.line) for b in bad] == [("old", "foo (>=1.0")]
    assert [u.requirement.name for u in unmet_dependencies(installed, ENV)] == ["numpy"]


def test_wheel_for_another_platform_is_unsupported(tmp_path: Path) -> None:
    dist(tmp_path, "good", "1.0", [], ["py3-none-any"])
    dist(tmp_path, "native", "1.0", [], ["cp310-cp310-manylinux_2_17_x86_64"])
    dist(tmp_path, "windows", "1.0", [], ["cp310-cp310-win_amd64"])
    dist(tmp_path, "py311", "1.0", [], ["cp311-cp311-manylinux_2_17_x86_64"])
    dist(tmp_path, "notags", "1.0", [], [])
    dist(tmp_path, "nowheel", "1.0", [])
    tags = target_from({"version": "3.10.6", "platform": "linux_x86_64", "glibc": "2.35"}).tags()
    assert sorted(d.name for d in unsupported_wheels(scan_site(tmp_path).installed(), tags)) == [
        "notags",
        "py311",
        "windows",
    ]


INVALID = [
    "foo (>=1.0",
    "foo>=1.0.*",
    "foo==1.0abc",
    "foo; python_version >",
    "foo; bogus_var == '1'",
    "foo[bar",
    "foo; extra == 'a' and",
    "foo; (python_version > '3'",
    "foo; python_version > '3')",
    "foo>=1.0)",
    "(foo>=1.0)",
    "foo; extra == 'a' or",
    "foo==",
    "-foo",
    "foo bar",
    'foo; python_version >= "3" or os_name',
]
VALID = [
    "numpy>=1.17",
    "torch (>=2.0,<3)",
    "Foo.Bar_baz[x, y] ==1.0.*; extra == 'gpu'",
    'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"',
    "foo; (extra == 'a') or sys_platform not in 'win32 cygwin'",
    "torch==2.1.2+cu121",
    "a!=1.0.post1.dev2",
    "b~=1.4",
]


def test_unreadable_lines_are_found_whatever_their_shape(tmp_path: Path) -> None:
    """The shortcut that skips parsing lines of common shapes never lets a bad one through."""
    from packaging.requirements import Requirement

    from repair.env.requires import _SURELY_VALID_RE

    for text in VALID:
        Requirement(text)
    dist(tmp_path, "many", "1.0", INVALID + VALID)
    bad = bad_requires(scan_site(tmp_path).installed())
    assert [b.line for b in bad] == INVALID
    assert all(_SURELY_VALID_RE.fullmatch(t) for t in VALID)


def test_the_shortcut_takes_linear_time_on_hostile_lines(tmp_path: Path) -> None:
    import time

    hostile = [
        "a" * 20000 + " " * 20000 + "!",
        "a>=1" + " ,  >=1" * 5000 + " !",
        "a; python_version == '3'" + " " * 40000 + "!",
        "a" + " " * 30000 + "[x" + " " * 30000,
    ]
    dist(tmp_path, "hostile", "1.0", hostile)
    start = time.perf_counter()
    bad = bad_requires(scan_site(tmp_path).installed())
    assert time.perf_counter() - start < 5.0
    assert len(bad) == len(hostile)
