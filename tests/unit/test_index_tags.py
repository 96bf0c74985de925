from __future__ import annotations

import pytest

from repair.index.tags import TargetError, target_from


def _s(target) -> set[str]:
    return {str(t) for t in target.tags()}


def test_windows_target_tags_are_the_targets_not_the_tools():
    t = target_from({"version": "3.10.6", "sys_platform": "win32", "platform": "win_amd64"})
    tags = _s(t)
    assert "cp310-cp310-win_amd64" in tags and "py3-none-any" in tags
    assert "cp310-abi3-win_amd64" in tags
    assert not any("linux" in x for x in tags)
    assert "cp311-cp311-win_amd64" not in tags
    assert t.marker_env()["sys_platform"] == "win32"
    assert t.marker_env()["platform_machine"] == "AMD64"


def test_linux_glibc_bounds_manylinux():
    t = target_from({"version": "3.12.3", "platform": "linux-x86_64", "libc": "glibc 2.17"})
    tags = _s(t)
    assert "cp312-cp312-manylinux2014_x86_64" in tags
    assert "cp312-cp312-manylinux1_x86_64" in tags
    assert "cp312-cp312-manylinux_2_28_x86_64" not in tags
    newer = _s(target_from({"version": "3.12", "platform": "linux_x86_64", "glibc": "2.35"}))
    assert "cp312-cp312-manylinux_2_28_x86_64" in newer


def test_musl_and_macos():
    musl = _s(target_from({"version": "3.11.4", "platform": "linux_aarch64", "libc": "musl 1.2"}))
    assert "cp311-cp311-musllinux_1_2_aarch64" in musl
    assert not any("manylinux" in x for x in musl)
    mac = _s(target_from({"version": "3.11", "platform": "macosx-14.0-arm64"}))
    assert "cp311-cp311-macosx_11_0_arm64" in mac
    assert "cp311-cp311-macosx_10_9_x86_64" not in mac


def test_facts_from_the_interpreter_probe():
    facts = {
        "version": "3.10.12",
        "platform": "linux-x86_64",
        "libc": "glibc 2.35",
        "markers": {"sys_platform": "linux", "platform_machine": "x86_64"},
    }
    t = target_from(facts)
    assert t.version == (3, 10, 12) and t.glibc == (2, 35)
    assert t.marker_env()["platform_machine"] == "x86_64"


@pytest.mark.parametrize("facts", [{}, {"version": "three"}, {"version": "3.10"}])
def test_bad_target_facts(facts):
    with pytest.raises(TargetError):
        target_from(facts)


def test_target_from_a_probed_and_an_estimated_interpreter():
    import sys
    from pathlib import Path

    from repair.env.interp import estimate, probe
    from repair.index.tags import target_from_interpreter

    probed = target_from_interpreter(probe(Path(sys.executable)))
    assert probed.version[:2] == sys.version_info[:2]
    from packaging.tags import sys_tags

    assert next(iter(sys_tags())) in probed.tags()  # the tool's best tag, from the facts alone
    win = target_from_interpreter(estimate("3.10.6", windows=True))
    assert "cp310-cp310-win_amd64" in {str(t) for t in win.tags()}
