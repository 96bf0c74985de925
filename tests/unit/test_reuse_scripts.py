"""How reuse rewrites a script for the new venv's interpreter."""

from __future__ import annotations

from repair.rebuild.reuse import _rewrite_script

NEW = "/new/venv/bin/python"


def test_plain_shebang() -> None:
    out = _rewrite_script(b"#!/old/venv/bin/python3.10\nimport sys\n", NEW)
    assert out == b"#!/new/venv/bin/python\nimport sys\n"


def test_quoted_shebang_and_crlf() -> None:
    out = _rewrite_script(b'#!"C:\\old venv\\Scripts\\python.exe"\r\nx\r\n', "C:\\n\\python.exe")
    assert out == b'#!"C:\\n\\python.exe"\r\nx\r\n'


def test_shebang_with_an_argument() -> None:
    assert _rewrite_script(b"#!/old/bin/python -E\nx\n", NEW) == b"#!/new/venv/bin/python -E\nx\n"


def test_pips_sh_trampoline_for_long_paths() -> None:
    script = (
        b"#!/bin/sh\n'''exec' \"/very/long/old/venv/bin/python\" \"$0\" \"$@\"\n' '''\nimport sys\n"
    )
    out = _rewrite_script(script, NEW)
    assert out == (
        b"#!/bin/sh\n'''exec' \"/new/venv/bin/python\" \"$0\" \"$@\"\n' '''\nimport sys\n"
    )


def test_scripts_that_name_no_venv_python_are_left_alone() -> None:
    for script in (
        b"#!/usr/bin/env python3\nx\n",
        b"#!/bin/bash\necho\n",
        b"\x7fELF\x02",
        b"#!/usr/bin/perl\n",
        b"",
    ):
        assert _rewrite_script(script, NEW) is None
