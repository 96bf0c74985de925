"""Validated manifests are cached by path, size and mtime; a changed file is read again."""

from __future__ import annotations

from pathlib import Path

import pytest

from repair.app import manifest


def write(path: Path, title: str) -> None:
    path.write_text(f'schema = 1\nname = "mine"\ntitle = "{title}"\n')


def test_changed_manifest_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    write(path, "First")
    assert manifest.load_file(path).title == "First"
    from platformdirs import user_cache_dir

    cache_files = list(Path(user_cache_dir("webui-repair", appauthor=False)).glob("manifests-*"))
    assert cache_files, "the parsed manifest was not cached"
    assert manifest.load_file(path).title == "First"  # from the cache
    write(path, "Second, longer")
    assert manifest.load_file(path).title == "Second, longer"


def test_invalid_manifest_is_never_cached(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('schema = 1\nname = "bad"\n')
    for _ in range(2):
        with pytest.raises(manifest.ManifestError, match="title: missing"):
            manifest.load_file(path)


def test_unwritable_cache_costs_nothing_but_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "cachefile"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = tmp_path / "mine.toml"
    write(path, "Works")
    assert manifest.load_file(path).title == "Works"
