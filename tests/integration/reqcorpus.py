"""The corpus of the differential tests against pip: requirements files (pip's own test cases,
the cases real installs have, and generated ones) and synthetic site-packages folders."""

from __future__ import annotations

import codecs
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

Files = dict[str, "str | bytes"]


@dataclass(frozen=True)
class FileCase:
    name: str
    files: Files
    top: str = "requirements.txt"
    constraint: bool = False
    env: dict[str, str] = field(default_factory=dict)


def _case(name: str, text: str | bytes, **kw: object) -> FileCase:
    return FileCase(name, {"requirements.txt": text}, **kw)  # type: ignore[arg-type]


# Transcribed from pip's tests/unit/test_req_file.py (the test each comes from is its name).
# Tests that need the network (nested http:// files, test_remote_reqs_parse) or a top file that
# is a URL (test_read_file_url) are left out: this tool does not go online to read a file.
PIP_CASES = [
    _case("TestPreprocess.test_comments_and_joins_case1", "req1 \\\n# comment \\\nreq2\n"),
    _case("TestPreprocess.test_comments_and_joins_case2", "req1\\\n# comment\n"),
    _case("TestPreprocess.test_comments_and_joins_case3", "req1 \\\n# comment\nreq2\n"),
    _case("TestIgnoreComments.test_ignore_line", "\nreq1\nreq2\n"),
    _case("TestIgnoreComments.test_ignore_comment", "req1\n# comment\nreq2\n"),
    _case("TestIgnoreComments.test_strip_comment", "req1\nreq # comment\nreq2\n"),
    _case(
        "TestJoinLines.test_join_lines",
        "line 1\nline 2:1 \\\nline 2:2\nline 3:1 \\\nline 3:2 \\\nline 3:3\nline 4\n",
    ),
    _case(
        "TestJoinLines.test_join_lines[as requirements]",
        "pkg1\npkg2 \\\n==1.0\npkg3 \\\n>=1 \\\n,<2\npkg4\n",
    ),
    _case("TestJoinLines.test_last_line_with_escape", "line1\nline2 \\"),
    _case("TestJoinLines.test_last_line_with_escape[as requirement]", "pkg1\npkg2 \\"),
    _case("TestProcessLine.test_parser_error", "--bogus"),
    _case("TestProcessLine.test_parser_offending_line", "pkg==1.0.0 --hash=somehash"),
    _case("TestProcessLine.test_parser_non_offending_line", "pkg==1.0.0 --hash=sha256:somehash"),
    _case("TestProcessLine.test_only_one_req_per_line", "req1 req2"),
    _case("TestProcessLine.test_error_message", "\n\nmy-package=1.0"),
    _case("TestProcessLine.test_yield_line_requirement", "SomeProject"),
    _case(
        "TestProcessLine.test_yield_pep440_line_requirement",
        "SomeProject @ https://url/SomeProject-py2-py3-none-any.whl",
    ),
    _case("TestProcessLine.test_yield_line_constraint", "SomeProject", constraint=True),
    _case(
        "TestProcessLine.test_yield_line_requirement_with_spaces_in_specifier", "SomeProject >= 2"
    ),
    _case("TestProcessLine.test_yield_editable_requirement", "-e git+https://url#egg=SomeProject"),
    FileCase(
        "TestProcessLine.test_nested_constraints_file",
        {"parent/req_file.txt": "-c reqs.txt", "parent/reqs.txt": "hello"},
        top="parent/req_file.txt",
    ),
    FileCase(
        "TestProcessLine.test_repeated_requirement_files",
        {"a.txt": "requests", "b.txt": "-r a.txt", "c.txt": "-r a.txt\n-r b.txt"},
        top="c.txt",
    ),
    FileCase(
        "TestProcessLine.test_recursive_requirements_file",
        {"0.txt": "-r 1.txt", "1.txt": "-r 2.txt", "2.txt": "-r 3.txt", "3.txt": "-r 0.txt"},
        top="0.txt",
    ),
    FileCase(
        "TestProcessLine.test_recursive_requirements_file[inner cycle]",
        {"0.txt": "-r 1.txt", "1.txt": "-r 2.txt", "2.txt": "-r 3.txt", "3.txt": "-r 2.txt"},
        top="0.txt",
    ),
    FileCase(
        "TestProcessLine.test_recursive_relative_requirements_file",
        {
            "root.txt": "-r nest/level_1.txt",
            "nest/level_1.txt": "-r nest/level_2.txt",
            "nest/nest/level_2.txt": "-r ../../root.txt",
        },
        top="root.txt",
    ),
    _case(
        "TestProcessLine.test_options_on_a_requirement_line",
        'SomeProject --config-settings="yo3=yo4" --config-settings "yo1=yo2"',
    ),
    _case(
        "TestProcessLine.test_hash_options",
        "SomeProject --hash=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e730433629"
        "38b9824"
        " --hash=sha384:59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f"
        "90397bdf5f6a13de828684f --hash=sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a"
        "6c65260e9cb8a7",
    ),
    _case("TestProcessLine.test_set_isolated", "SomeProject"),
    _case("TestProcessLine.test_set_finder_no_index", "--no-index"),
    _case(
        "TestProcessLine.test_set_finder_no_index_is_remembered_for_later_invocations",
        "--no-index\n--index-url=url",
    ),
    _case("TestProcessLine.test_set_finder_index_url", "--index-url=url"),
    _case("TestProcessLine.test_set_finder_find_links", "--find-links=url"),
    _case("TestProcessLine.test_set_finder_extra_index_urls", "--extra-index-url=url"),
    _case(
        "TestProcessLine.test_set_finder_trusted_host",
        "--trusted-host=host1 --trusted-host=host2:8080",
    ),
    _case("TestProcessLine.test_set_finder_allow_all_prereleases", "--pre"),
    _case("TestProcessLine.test_set_finder_all_releases", "--all-releases :all:"),
    _case(
        "TestProcessLine.test_set_finder_all_releases_specific_package", "--all-releases pkg1,pkg2"
    ),
    _case("TestProcessLine.test_set_finder_only_final", "--only-final :all:"),
    _case("TestProcessLine.test_set_finder_only_final_specific_package", "--only-final pkg1,pkg2"),
    _case("TestProcessLine.test_use_feature", "--use-feature=fast-deps"),
    _case("TestProcessLine.test_use_feature_with_error", "--use-feature=resolvelib"),
    FileCase(
        "TestProcessLine.test_relative_local_find_links",
        {"path/req_file.txt": "--find-links=rel_path", "path/rel_path/.keep": ""},
        top="path/req_file.txt",
    ),
    FileCase(
        "TestProcessLine.test_relative_local_nested_req_files",
        {"parent/req_file.txt": "-r reqs.txt", "parent/reqs.txt": "hello"},
        top="parent/req_file.txt",
    ),
    FileCase(
        "TestProcessLine.test_absolute_local_nested_req_files",
        {"parent/req_file.txt": "-r {root}/other/reqs.txt", "other/reqs.txt": "hello"},
        top="parent/req_file.txt",
    ),
    _case("TestBreakOptionsArgs.test_no_args", "--option"),
    _case("TestBreakOptionsArgs.test_no_options", "arg arg"),
    _case("TestBreakOptionsArgs.test_args_short_options", "arg arg -s"),
    _case("TestBreakOptionsArgs.test_args_long_options", "arg arg --long"),
    _case("TestOptionVariants.test_variant1", "-i url"),
    _case("TestOptionVariants.test_variant2", "-i 'url'"),
    _case("TestOptionVariants.test_variant3", "--index-url=url"),
    _case("TestOptionVariants.test_variant4", "--index-url url"),
    _case("TestOptionVariants.test_variant5", "--index-url='url'"),
    _case(
        "TestParseRequirements.test_multiple_appending_options",
        "--extra-index-url url1 \n--extra-index-url url2 ",
    ),
    _case(
        "TestParseRequirements.test_expand_existing_env_variables",
        "https://${GITHUB_TOKEN}:x-oauth-basic@github.com/user/${DO_12_FACTOR}/archive/master.zip",
        env={"GITHUB_TOKEN": "notarealtoken", "DO_12_FACTOR": "awwyeah"},
    ),
    _case(
        "TestParseRequirements.test_expand_missing_env_variables",
        "https://${NON_EXISTENT_VARIABLE}:$WRONG_FORMAT@%WINDOWS_FORMAT%github.com/user/repo/"
        "archive/master.zip",
    ),
    _case(
        "TestParseRequirements.test_join_lines", "--extra-index-url url1 \\\n--extra-index-url url2"
    ),
    _case(
        "TestParseRequirements.test_req_file_parse_no_only_binary",
        "# default is no constraints\n# We're not testing the format control logic here, just "
        "that the options are\n# accepted\n--no-binary fred\n--only-binary wilma\n",
    ),
    _case("TestParseRequirements.test_req_file_parse_comment_start_of_line", "# Comment "),
    _case("TestParseRequirements.test_invalid_options", "--'data\n"),
    _case(
        "TestParseRequirements.test_req_file_parse_comment_end_of_line_with_url",
        "https://example.com/foo.tar.gz # Comment ",
    ),
    _case(
        "TestParseRequirements.test_req_file_parse_egginfo_end_of_line_with_url",
        "https://example.com/foo.tar.gz#egg=wat",
    ),
    _case(
        "TestParseRequirements.test_req_file_no_finder",
        "\n    --find-links https://example.com/\n    --index-url https://example.com/\n"
        "    --extra-index-url https://two.example.com/\n    --no-use-wheel\n    --no-index\n",
    ),
    _case("TestParseRequirements.test_general_decoding[defaults to UTF-8]", b"Django==1.4.2"),
    _case(
        "TestParseRequirements.test_general_decoding[decodes based on PEP-263 style headers]",
        "# coding=latin1\nDjango==1.4.2 # Pas trop de café".encode("latin-1"),
    ),
    *[
        _case(
            f"TestParseRequirements.test_decoding_with_BOM[{enc}]",
            bom + "Django==1.4.2".encode(enc),
        )
        for bom, enc in (
            (codecs.BOM_UTF8, "utf-8"),
            (codecs.BOM_UTF16_BE, "utf-16-be"),
            (codecs.BOM_UTF16_LE, "utf-16-le"),
            (codecs.BOM_UTF32_BE, "utf-32-be"),
            (codecs.BOM_UTF32_LE, "utf-32-le"),
            (b"", "utf-16"),
            (b"", "utf-32"),
        )
    ],
    _case(
        "TestParseRequirements.test_warns_and_falls_back_to_locale_on_utf8_decode_fail",
        b"pip<=24.0 # some comment\xff\n",
    ),
    _case("TestParseRequirements.test_errors_on_non_decodable_data", b"\xff"),
    _case("test_missing_constraint_file_message_mentions_constraints", "-c does-not-exist.txt"),
]

# What users' files hold, and what an earlier reading got wrong.
FIELD_CASES = [
    _case("notepad-bom", codecs.BOM_UTF8 + b"torch==2.1.2\nnumpy\n"),
    _case("powershell5-freeze", "\ufefftorch==2.1.2\r\nnumpy==1.26.4\r\n".encode("utf-16-le")),
    _case("comment-ending-in-backslash", "# see C:\\path\\\nnumpy\n"),
    _case("indented-comment-ending-in-backslash", "   # a \\\nnumpy\n"),
    _case("url-marker-spaced", 'foo @ https://e.com/foo-1.0.tar.gz ; python_version >= "3"\n'),
    _case(
        "url-marker-semicolon-space", 'foo @ https://e.com/foo-1.0.tar.gz; sys_platform == "x"\n'
    ),
    _case("url-marker-tight", 'foo @ https://e.com/foo-1.0.tar.gz;sys_platform == "x"\n'),
    _case("bare-url-marker", 'https://e.com/foo-1.0-py3-none-any.whl; sys_platform == "x"\n'),
    _case("bare-url-marker-tight", 'https://e.com/foo-1.0-py3-none-any.whl;sys_platform=="x"\n'),
    _case("bare-url-semicolon-in-url", "https://e.com/a;b/foo.tar.gz#egg=foo\n"),
    _case("option-after-requirement", "torch==2.1.2 --extra-index-url https://d.e/whl/cu121\n"),
    _case("pre-after-requirement", "foo --pre\n"),
    _case("index-after-requirement", "foo -i https://i.e/simple\n"),
    _case("no-require-hashes", "--no-require-hashes\nfoo\n"),
    _case("abbreviated-option", "--extra-index https://e.e/simple\nfoo\n"),
    _case("abbreviated-ambiguous", "--no https://e.e/simple\n"),
    _case("global-option-stops-pip", "foo --global-option=--x\n"),
    _case("install-option-stops-pip", "foo --install-option=--x\n"),
    _case("no-deps-stops-pip", "--no-deps\nfoo\n"),
    _case("progress-bar-stops-pip", "--progress-bar off\n"),
    _case("wheel-url-pins", "https://e.com/p/foo-1.0-py3-none-any.whl\n"),
    _case(
        "wheel-url-pins-local", "https://d.e/whl/torch-2.1.2%2Bcu121-cp310-cp310-linux_x86_64.whl\n"
    ),
    _case("wheel-bare-file-name", "foo-1.0-py3-none-any.whl\n"),
    _case("wheel-relative-path", "./wheels/Foo_Bar-2.0rc1-py3-none-any.whl\n"),
    _case("wheel-bad-name", "https://e.com/p/foo.whl\n"),
    FileCase(
        "constraints-including-requirements",
        {
            "requirements.txt": "-c cons.txt\nfoo\n",
            "cons.txt": "-r more.txt\nbar<2\n",
            "more.txt": "baz\n",
        },
    ),
    FileCase(
        "include-cycle-two",
        {"requirements.txt": "-r b.txt\nalpha\n", "b.txt": "-r requirements.txt\nbeta\n"},
    ),
    FileCase("include-self", {"requirements.txt": "-r requirements.txt\n"}),
    FileCase("include-missing", {"requirements.txt": "-r nowhere.txt\n"}),
    FileCase("include-twice", {"requirements.txt": "-r a.txt\n-c a.txt\n", "a.txt": "foo<2\n"}),
    FileCase("local-dir-installable", {"requirements.txt": "./pkg\n", "pkg/setup.py": ""}),
    FileCase("local-dir-not-installable", {"requirements.txt": "./pkg\n", "pkg/README": ""}),
    FileCase("local-dir-extras", {"requirements.txt": "./pkg[GPU]\n", "pkg/pyproject.toml": ""}),
    FileCase("editable-dir", {"requirements.txt": "-e ./pkg\n", "pkg/setup.py": ""}),
    _case("editable-dir-missing", "-e ./pkg\n"),
    _case("editable-dir-egg", "-e ./pkg#egg=pkg\n"),
    _case("editable-vcs-no-egg", "-e git+https://g.e/x/y.git\n"),
    _case("editable-pep508", "-e y @ git+https://g.e/x/y.git\n"),
    _case("editable-git-scheme", "-e git://g.e/x/y.git#egg=y\n"),
    _case("editable-constraint", "-e git+https://g.e/x/y.git#egg=y\n", constraint=True),
    _case("vcs-no-egg", "git+https://g.e/openai/CLIP.git@d50d76d\n"),
    _case("vcs-egg", "git+https://g.e/openai/CLIP.git@d50d76d#egg=clip\n"),
    _case("vcs-bad-egg", "git+https://g.e/openai/CLIP.git#egg=clip[x]\n"),
    _case("pep508-vcs", "clip @ git+https://g.e/openai/CLIP.git@d50d76d\n"),
    _case("tab-before-option", "foo\t--pre\n"),
    _case("hash-no-requirement", "--hash=sha256:abcd\n"),
    _case("env-var-empty", "foo${EMPTY_VAR}\n", env={"EMPTY_VAR": ""}),
    _case("env-var-set", "foo==${FOO_VERSION}\n", env={"FOO_VERSION": "1.2"}),
    _case("marker-invalid", "foo; python_version >\n"),
    _case("marker-empty", "foo;\n"),
    _case("extras-spaces", "foo[ gpu , dev ]>=1\n"),
    _case("hash-in-name", "foo#bar\n"),
    _case("long-spaces-line", "foo" + " " * 2000 + "# c\n"),
    _case("form-feed-line-break", "foo\x0cbar\n"),
    _case("crlf", "foo\r\nbar\r\n"),
    _case("ftp-url", "ftp://e.com/foo-1.0.tar.gz#egg=foo\n"),
    _case("file-url-relative", "file:../foo-1.0-py3-none-any.whl\n"),
    _case("windows-path", "C:\\wheels\\foo-1.0-py3-none-any.whl\n"),
    _case("requirement-and-include", "foo -r other.txt\n"),
    _case("dash-r-no-space", "-rother.txt\n"),
    _case("option-positional", "--pre foo\n"),
    _case(
        "extra-index-then-index",
        "--extra-index-url https://e.e/a\n-i https://i.e/b\n--extra-index-url https://e.e/c\nfoo\n",
    ),
    _case("no-index-then-index", "--no-index\n-i https://i.e/b\n--extra-index-url https://e/c\n"),
    _case("trusted-host-bad-port", "--trusted-host=host2:80*80\n"),
    FileCase("local-dir-bad-extras", {"requirements.txt": "./pkg[GPU--&]\n", "pkg/setup.py": ""}),
    _case("file-url-with-tab", "fil\te:../foo-1.0-py3-none-any.whl\n"),
    _case("editable-pep508-not-vcs", "-e foo @ https://e.com/foo-1.0.tar.gz\n"),
    _case("editable-pep508-file", "-e foo @ file:///nowhere/foo\n"),
    _case("url-unbalanced-bracket", "https://example.com]=foo.tar.gz\n"),
    _case("requirement-then-editable", "foo -e git+https://g.e/x/y.git#egg=y\n"),
    _case("url-then-editable", "git+https://g.e/x/y.git#egg=y -e ./elsewhere\n"),
    _case("index-and-extra-on-one-line", "-i https://i.e/b --extra-index-url https://e.e/c\n"),
]

_NAMES = ["Foo", "foo_bar", "Foo.Bar-baz", "torch", "TORCH", "a", "x1", "Pillow", "opencv-python"]
_SPECS = [
    "",
    "==1.0",
    ">=2",
    " >= 2",
    "==2.1.2+cu121",
    ">=1.0rc1,<2",
    "~=1.4",
    "===1.0",
    "==1.*",
    ">=1.*",
    "=1.0",
    "(>=1.0)",
    " (>=1.0, <3)",
    "==1.0.post1.dev2",
    "<=0.9a1",
]
_EXTRAS = ["", "", "[gpu]", "[GPU,dev]", "[ gpu ]", "[]", "[gpu"]
_MARKERS = [
    "",
    "",
    "",
    '; python_version >= "3.8"',
    ';python_version>="3.8"',
    ' ; sys_platform == "win32"',
    '; extra == "x"',
    ";",
    "; python_version >",
    '; platform_machine=="x86_64"and python_version>"3"',
    ';\tos_name == "nt"',
    "; python_version in '3.8 3.9 3.10'",
    ' ;python_version<"3"or os_name=="posix"',
]
_URLS = [
    "name @ https://e.com/pkg-1.0.tar.gz",
    "https://e.com/foo-1.0-py3-none-any.whl",
    "https://e.com/foo.tar.gz#egg=foo",
    "git+https://g.e/x/y.git@v1#egg=y",
    "git+https://g.e/x/y.git",
    "foo-1.0-py3-none-any.whl",
    "./wheels/bar-2.0-py3-none-any.whl",
    "../x.tar.gz",
    "file:../x.tar.gz",
    "https://e.com/Foo_Bar-1.0a1-cp310-cp310-win_amd64.whl",
    "./pkgdir",
    "x @ file:///tmp/x-1.0.tar.gz",
    "hg+https://h.e/r#egg=R",
]
_REQ_OPTIONS = [
    "",
    "",
    "",
    " --hash=sha256:abc",
    " --pre",
    " -i https://i.e/simple",
    " --extra-index-url https://e.e/simple",
    " --extra-index https://e.e",
    " --no-deps",
    " --global-option=x",
    " --config-settings k=v",
    " -C k",
    " --bogus",
    " --hash=md5:abc",
    " --hash abc",
    " -e git+https://g.e/x/w.git#egg=w",
    " -r common.txt",
    " -c cons.txt",
]
_OPTION_LINES = [
    "--pre",
    "-i https://a.e/simple",
    "--index-url=https://a.e/simple",
    "--extra-index-url https://b.e/simple",
    "--no-index",
    "--prefer-binary",
    "--only-binary :all:",
    "--no-binary=foo",
    "-f ./wheels",
    "--trusted-host h.e",
    "--use-feature=fast-deps",
    "--require-hashes",
    "--no-require-hashes",
    "--progress-bar off",
    "--no-deps",
    "--pre --bogus",
    "--find-links",
    "-r",
    "-r common.txt",
    "-c common.txt",
    "-c cons.txt",
    "--requirement=common.txt",
    "--only-binary -x",
    "-e git+https://g.e/x/z.git#egg=z",
    "-e ./pkgdir",
    "--constraint 'common.txt'",
    '--index-url "https://q.e/simple"',
]
_COMMENTS = ["# comment", "  # indented \\", "#", "# coding=utf-8"]


def _line(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.45:
        line = rnd.choice(_NAMES) + rnd.choice(_EXTRAS) + rnd.choice(_SPECS) + rnd.choice(_MARKERS)
        return line + rnd.choice(_REQ_OPTIONS) + rnd.choice(["", "", " # trailing", "#tight"])
    if kind < 0.65:
        url = rnd.choice(_URLS)
        return (
            url
            + rnd.choice(["", "", '; python_version >= "3"', ';python_version>="3"', " # c"])
            + rnd.choice(_REQ_OPTIONS[:6])
        )
    if kind < 0.85:
        return rnd.choice(_OPTION_LINES)
    if kind < 0.93:
        return rnd.choice(_COMMENTS)
    return rnd.choice(_NAMES) + " \\"  # continued on the next line


def generated_cases(count: int, seed: int = 19) -> list[FileCase]:
    rnd = random.Random(seed)
    shared: Files = {
        "common.txt": "numpy>=1.17\n",
        "cons.txt": "-r more.txt\nprotobuf<4\n",
        "more.txt": "einops\n",
        "pkgdir/setup.py": "",
        "wheels/.keep": "",
    }
    out = []
    for i in range(count):
        text = "\n".join(_line(rnd) for _ in range(rnd.randint(1, 6)))
        if rnd.random() < 0.8:
            text += "\n"
        enc = rnd.random()
        data: str | bytes = text
        if enc < 0.05:
            data = codecs.BOM_UTF8 + text.encode("utf-8")
        elif enc < 0.10:
            data = text.replace("\n", "\r\n").encode("utf-16")
        elif enc < 0.12:
            data = ("# -*- coding: latin-1 -*-\n" + text + " # é").encode("latin-1")
        out.append(
            FileCase(
                f"generated-{i:03d}",
                {**shared, "requirements.txt": data},
                constraint=rnd.random() < 0.05,
            )
        )
    return out


def write_case(case: FileCase, root: Path) -> Path:
    """Write the case's files under ``root``; returns the top file."""
    for rel, content in case.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.replace("{root}", str(root)).encode("utf-8"))
        else:
            path.write_bytes(content)
    return root / case.top


# ---------------------------------------------------------------------------------------------
# Environments


@dataclass(frozen=True)
class DistSpec:
    name: str  # as written in METADATA
    version: str
    requires: tuple[str, ...] = ()
    tags: tuple[str, ...] | None = None  # WHEEL's Tag lines; None: no WHEEL file
    egg: bool = False  # an .egg-info folder with requires.txt instead of a .dist-info


_SPELLINGS = {
    "alpha": ["alpha", "Alpha", "ALPHA"],
    "beta-pkg": ["beta-pkg", "beta_pkg", "Beta.Pkg"],
    "gamma": ["gamma", "Gamma"],
    "delta.x": ["delta.x", "delta_x", "Delta-X"],
    "eps": ["eps", "EPS"],
    "zeta": ["zeta", "Zeta"],
}
_VERSIONS = ["1.0", "2.0", "2.0rc1", "1.0+cu121", "0.9.post1", "1.0.dev3", "3.1.4", "2.1.2+cpu"]
_DEP_SPECS = [
    "",
    ">=1.0",
    "<2",
    "==1.0",
    ">=2.0rc1",
    "==1.0+cu121",
    "==1.0.*",
    "!=2.0",
    "~=0.9",
    ">=3",
    "<1.0.dev4",
]
_DEP_MARKERS = [
    "",
    "",
    '; extra == "gpu"',
    '; extra=="gpu"',
    '; extra == "gpu"or sys_platform == "linux"',
    '; extra\t==\t"gpu"\tor\tos_name == "posix"',
    '; python_version < "3"',
    '; sys_platform == "linux"',
    '; os_name == "nt"',
    ';python_version>="3.6"',
    '; platform_system == "Linux" and extra == "cuda"',
    '; (extra == "gpu")',
]
_BAD_LINES = ["foo (>=1.0", "bar; python_version >", "baz==", "qux @", "[x]"]
_TAGS = [
    ("py3-none-any",),
    ("py2.py3-none-any",),
    ("cp310-cp310-manylinux_2_17_x86_64",),
    ("cp311-cp311-win_amd64",),
    ("cp38-abi3-macosx_11_0_arm64",),
    (),
    ("cp310-cp310-linux_x86_64", "cp310-cp310-win_amd64"),
]


def generated_envs(count: int, seed: int = 4086) -> list[list[DistSpec]]:
    rnd = random.Random(seed)
    out = []
    keys = list(_SPELLINGS)
    for _ in range(count):
        chosen = rnd.sample(keys, rnd.randint(2, len(keys)))
        dists = []
        for key in chosen:
            reqs = []
            for _ in range(rnd.randint(0, 4)):
                target = rnd.choice(keys)  # may be missing, may be itself or a cycle
                extra = rnd.choice(["", "", "", "[gpu]", "[cuda]"])
                reqs.append(
                    rnd.choice(_SPELLINGS[target])
                    + extra
                    + rnd.choice(_DEP_SPECS)
                    + rnd.choice(_DEP_MARKERS)
                )
            if rnd.random() < 0.12:
                reqs.append(rnd.choice(_BAD_LINES))
            tags = rnd.choice(_TAGS) if rnd.random() < 0.6 else None
            egg = rnd.random() < 0.2
            dists.append(
                DistSpec(
                    rnd.choice(_SPELLINGS[key]),
                    rnd.choice(_VERSIONS),
                    tuple(reqs),
                    None if egg else tags,
                    egg,
                )
            )
        out.append(dists)
    return out


def write_env(dists: list[DistSpec], site: Path) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    for d in dists:
        if d.egg:
            _write_egg(d, site)
            continue
        folder = site / f"{d.name.replace('-', '_')}-{d.version}.dist-info"
        folder.mkdir()
        meta = ["Metadata-Version: 2.1", f"Name: {d.name}", f"Version: {d.version}"]
        meta += [f"Provides-Extra: {e}" for e in ("gpu", "cuda")]
        meta += [f"Requires-Dist: {r}" for r in d.requires]
        (folder / "METADATA").write_text("\n".join(meta) + "\n\n", encoding="utf-8")
        (folder / "RECORD").write_text("", encoding="utf-8")
        if d.tags is not None:
            wheel = ["Wheel-Version: 1.0", "Generator: test", "Root-Is-Purelib: true"]
            wheel += [f"Tag: {t}" for t in d.tags]
            (folder / "WHEEL").write_text("\n".join(wheel) + "\n", encoding="utf-8")
    return site


def _write_egg(d: DistSpec, site: Path) -> None:
    """An .egg-info folder (setup.py develop, old setuptools): PKG-INFO and requires.txt, whose
    sections (``[extra]``, ``[:marker]``, ``[extra:marker]``) carry the markers."""
    folder = site / f"{d.name.replace('-', '_')}-{d.version}-py3.10.egg-info"
    folder.mkdir()
    (folder / "PKG-INFO").write_text(
        f"Metadata-Version: 1.2\nName: {d.name}\nVersion: {d.version}\n\n", encoding="utf-8"
    )
    sections: dict[str, list[str]] = {}
    for req in d.requires:
        text, _, marker = req.partition(";")
        marker = marker.strip()
        m = re.fullmatch(r"""\(?extra\s*==\s*["']([^"']+)["']\)?""", marker)
        if m:
            head = f"[{m.group(1)}]"
        elif marker and "extra" not in marker:
            head = f"[:{marker}]"
        elif marker:
            continue  # an extra joined to other tests has no requires.txt spelling
        else:
            head = ""
        sections.setdefault(head, []).append(text.strip())
    lines = list(sections.pop("", []))
    for head, reqs in sections.items():
        lines += ["", head, *reqs]
    (folder / "requires.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
