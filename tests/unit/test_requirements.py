"""Requirements files read as pip reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.requirements import parse_file


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_includes_constraints_options_markers_and_urls(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_VERSION", "2.1.2")
    write(tmp_path / "base.txt", "numpy==1.26.4 # pinned\nsafetensors\n")
    write(tmp_path / "constraints.txt", "protobuf<4\n")
    req = write(tmp_path / "requirements.txt", """\
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
""")
    (tmp_path / "local-extension").mkdir()
    write(tmp_path / "local-extension" / "setup.py", "")
    result = parse_file(req)
    names = [r.name for r in result.requirements]
    assert names == ["numpy", "safetensors", "torch", "transformers", "accelerate", "clip",
                     "open-clip-torch", "pkg"]
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
    req = write(tmp_path / "requirements.txt",
                "ok-pkg\nnot a valid line\n-r nowhere.txt\n--bogus-option\n")
    result = parse_file(req)
    assert [(e.lineno, e.error is not None) for e in result.errors] == [
        (2, True), (3, True), (4, True),
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
    assert len(result.errors) == 1 and "binary" in result.errors[0].error


def test_missing_top_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse_file(tmp_path / "nope.txt")
