"""Requires-Dist lines for extras nobody asked for are skipped without parsing them."""

from __future__ import annotations

import pytest

from repair.env.requires import needs_extra as _needs_extra
from repair.env.requires import skip_for_extras as _skip


@pytest.mark.parametrize(
    "text, extra",
    [
        ('pytest; extra == "test"', "test"),
        ("pytest ; extra=='test'", "test"),
        ('nvidia-cudnn-cu12==9.1; platform_system == "Linux" and extra == "cuda"', "cuda"),
        ("numpy>=1.17", None),
        ('colorama; os_name == "nt"', None),
        ('foo; extra == "a" or python_version < "3.8"', None),  # cannot tell: parse it
        ('foo; extra == "gpu"or sys_platform == "linux"', None),  # "or" without spaces
        ('foo; extra\t==\t"gpu"\tor\tsys_platform == "linux"', None),  # tabs
        ('foo; (extra=="gpu")and sys_platform == "linux"', "gpu"),
    ],
)
def test_needs_extra(text: str, extra: str | None) -> None:
    assert _needs_extra(text) == extra


def test_skip_keeps_requested_extras_and_plain_lines() -> None:
    assert _skip('pytest; extra == "Test_Suite"', ("",))
    assert not _skip('pytest; extra == "Test_Suite"', ("", "test-suite"))
    assert not _skip("numpy>=1.17", ("",))
