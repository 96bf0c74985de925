"""Requirements files read as pip reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.app.reqfiles import parse_file


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_includes_constraints_options_markers_and_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_VERSION", "2.1.2")
    write(tmp_path / "base.txt", "numpy==1.26.4 # pinned\nsafetensors\n")
    write(tmp_path / "constraints.txt", "protobuf<4\n")
    req = write(
        tmp_path / "requirements.txt",
        """\
# A comment
-r base.txt
-c constraints.txt
--index-url https://download.pytorch.org/whl/cu121
--extra-index-url=https://mirror.example/simple
-f ./wheels
--prefer-binary
torch==${TORCH_VERSION}
transformers[sentencepiece]>=4.30 ; python_version >= "3.8"
accelerate \\
    >=0.21
git+https://github.com/openai/CLIP.git@d50d76d#egg=clip
https://example.com/pkgs/open_clip_torch-2.20.0-py3-none-any.whl
-e ./local-extension
pkg --hash=sha256:abcd
""",
    )
    (tmp_path / "local-extension").mkdir()
    write(tmp_path / "local-extension" / "setup.py", "")
    result = parse_file(req)
    names = [r.name for r in result.requirements]
    assert names == [
        "numpy",
        "safetensors",
        "torch",
        "transformers",
        "accelerate",
        "clip",
        "open-clip-torch",
        "pkg",
    ]
    assert [c.name for c in result.constraints] == ["protobuf"]
    torch = next(r for r in result.requirements if r.name == "torch")
    assert str(torch.requirement.specifier) == "==2.1.2"
    acc = next(r for r in result.requirements if r.name == "accelerate")
    assert str(acc.requirement.specifier) == ">=0.21"
    assert result.options["index_url"] == "https://download.pytorch.org/whl/cu121"
    assert result.options["extra_index_urls"] == ["https://mirror.example/simple"]
    assert result.options["find_links"] == ["./wheels"]
    assert result.options["prefer_binary"] is True
    assert result.errors == []
    editable = next(r for r in result.lines if r.editable)
    assert editable.url and editable.url.startswith("file://") and editable.name is None


def test_errors_are_kept_with_line_numbers(tmp_path: Path) -> None:
    req = write(
        tmp_path / "requirements.txt", "ok-pkg\nnot a valid line\n-r nowhere.txt\n--bogus-option\n"
    )
    result = parse_file(req)
    assert [(e.lineno, e.error is not None) for e in result.errors] == [
        (2, True),
        (3, True),
        (4, True),
    ]
    assert "included file not found" in result.errors[1].error


def test_include_cycle_terminates(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "-r b.txt\nalpha\n")
    write(tmp_path / "b.txt", "-r a.txt\nbeta\n")
    result = parse_file(tmp_path / "a.txt")
    assert sorted(r.name for r in result.requirements) == ["alpha", "beta"]


def test_binary_requirements_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path / "inner.bin", "")
    (tmp_path / "inner.bin").write_bytes(b"\x00\xff\x00")
    req = write(tmp_path / "requirements.txt", "-r inner.bin\n")
    result = parse_file(req)
    assert len(result.errors) == 1 and "UTF-8" in str(result.errors[0].error)


def test_missing_top_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_file(tmp_path / "nope.txt")


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "-r b.txt\nalpha\n")
    write(tmp_path / "b.txt", "-r a.txt\nbeta\n")
    result = parse_file(tmp_path / "a.txt")
    assert len(result.errors) == 1 and "includes itself" in str(result.errors[0].error)


def test_comment_stripping_is_linear_time(tmp_path: Path) -> None:
    """A regex with ``\\s+#`` takes quadratic time on a long run of spaces (15 s on 40,000)."""
    import time

    req = write(
        tmp_path / "requirements.txt",
        "foo" + " " * 100_000 + "x\n" + " " * 100_000 + "# c\nbar" + " " * 100_000 + "# c\n",
    )
    start = time.perf_counter()
    result = parse_file(req)
    assert time.perf_counter() - start < 2.0
    assert [r.name for r in result.requirements] == ["bar"] and len(result.errors) == 1


def test_issue_cases(tmp_path: Path) -> None:
    import codecs

    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8 + b"torch==2.1.2\n")
    (tmp_path / "ps5.txt").write_bytes("torch==2.1.2\r\nnumpy\r\n".encode("utf-16"))
    write(tmp_path / "comment.txt", "# C:\\path\\\nnumpy\n")
    write(
        tmp_path / "url.txt",
        'foo @ https://e.com/foo.tar.gz; sys_platform == "x"\n'
        'https://e.com/bar-1.0-py3-none-any.whl;sys_platform == "x"\n'
        "torch==2.1.2 --extra-index-url https://d.e/whl\nbaz --pre\nqux -i https://i.e\n"
        "foo-1.0-py3-none-any.whl\n",
    )
    write(tmp_path / "bad.txt", "foo --global-option=x\n--no-deps\n")
    write(tmp_path / "cons.txt", "-r more.txt\n")
    write(tmp_path / "more.txt", "einops\n")
    write(tmp_path / "top.txt", "-c cons.txt\n")
    assert [r.name for r in parse_file(tmp_path / "bom.txt").requirements] == ["torch"]
    assert [r.name for r in parse_file(tmp_path / "ps5.txt").requirements] == ["torch", "numpy"]
    assert [r.name for r in parse_file(tmp_path / "comment.txt").requirements] == ["numpy"]
    url = parse_file(tmp_path / "url.txt")
    assert url.errors == []
    foo, bar, torch, baz, qux, wheel = url.lines
    assert str(foo.marker) == 'sys_platform == "x"' and foo.url == "https://e.com/foo.tar.gz"
    assert bar.name is None and bar.url and bar.url.endswith(';sys_platform == "x"')
    assert str(torch.requirement) == "torch==2.1.2" and "index_url" not in url.options
    assert (baz.name, qux.name) == ("baz", "qux")
    assert str(wheel.requirement) == "foo==1.0" and wheel.url and wheel.url.startswith("file:")
    assert len(parse_file(tmp_path / "bad.txt").errors) == 2
    top = parse_file(tmp_path / "top.txt")
    assert [r.name for r in top.requirements] == ["einops"] and top.constraints == []


@pytest.mark.parametrize(
    "value, shown",
    [
        ("torch>=2", '"torch>=2"'),
        ("numpy==1.26.4", "numpy==1.26.4"),
        ('e; extra == "x"', "\"e; extra == 'x'\""),
        ("diffusers[torch]", '"diffusers[torch]"'),
        ("/opt/my app/venv/bin/python", '"/opt/my app/venv/bin/python"'),
    ],
)
def test_shell_arg_reads_alike_in_posix_cmd_and_powershell(value: str, shown: str) -> None:
    from repair.app.requirements import shell_arg

    assert shell_arg(value) == shown


def test_shell_arg_of_a_requirement_drops_the_marker() -> None:
    from packaging.requirements import Requirement

    from repair.app.requirements import shell_arg

    assert shell_arg(Requirement('accelerate>=0.21; extra == "torch"')) == '"accelerate>=0.21"'
