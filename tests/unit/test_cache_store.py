"""The check's cache file: keyed by stat, robust against corrupt and hostile content, written
atomically, bounded in size."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import repair.cache.store as cache
from repair.cache.store import Store, fingerprint_ok, stat_key


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_DIR, str(folder))
    return folder


def _old_file(path: Path, text: str = "x") -> Path:
    path.write_text(text)
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def test_round_trip_and_stat_keying(tmp_path: Path) -> None:
    f = _old_file(tmp_path / "METADATA")
    store = Store.open("scope", "venv")
    store.put("dists", "a", [stat_key(f)], {"name": "a"})
    store.save("scope")
    again = Store.open("scope", "venv")
    assert again.get("dists", "a", [stat_key(f)]) == {"name": "a"}
    f.write_text("changed")
    assert again.get("dists", "a", [stat_key(f)]) is None


def test_recent_files_are_not_cached(tmp_path: Path) -> None:
    f = tmp_path / "fresh"
    f.write_text("x")
    store = Store.open("scope", "venv")
    store.put("dists", "a", [stat_key(f)], 1)
    store.save("scope")
    assert Store.open("scope", "venv").get("dists", "a", [stat_key(f)]) is None


def test_entries_not_used_in_a_run_drop_out(tmp_path: Path) -> None:
    f = _old_file(tmp_path / "f")
    store = Store.open("scope", "venv")
    store.put("dists", "a", [stat_key(f)], 1)
    store.put("dists", "b", [stat_key(f)], 2)
    store.save("scope")
    second = Store.open("scope", "venv")
    assert second.get("dists", "a", [stat_key(f)]) == 1
    second.save("scope")
    third = Store.open("scope", "venv")
    assert third.get("dists", "b", [stat_key(f)]) is None
    assert third.get("dists", "a", [stat_key(f)]) == 1


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x01garbage",
        b"{",
        b"[]",
        b'"text"',
        b"null",
        b'{"format": "webui-repair.cache/1", "scope": "scope", "sections": []}',
        b'{"format": "webui-repair.cache/1", "scope": "scope", "sections": {"dists": 5}}',
        b'{"format": "webui-repair.cache/1", "scope": "scope", "sections": {"dists": {"a": 7}}}',
        b'{"format": "other", "scope": "scope", "sections": {}}',
        b"[" * 100000 + b"]" * 100000,
        '{"format": "webui-repair.cache/1", "scope": "\udc80"}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_a_bad_cache_file_is_ignored(_cache_dir: Path, content: bytes) -> None:
    store = Store.open("scope", "venv")
    assert store.path is not None
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(content)
    again = Store.open("scope", "venv")
    assert again.get("dists", "a", [None]) is None
    again.put("dists", "a", [None], 1)
    again.save("scope")  # replaces the bad file
    assert json.loads(store.path.read_bytes())["format"] == cache.FORMAT


def test_a_file_of_another_scope_is_ignored(tmp_path: Path) -> None:
    store = Store.open("scope", "venv")
    store.put("s", "k", [None], 1)
    store.save("scope")
    assert store.path is not None
    data = json.loads(store.path.read_text())
    data["scope"] = "elsewhere"
    store.path.write_text(json.dumps(data))
    assert Store.open("scope", "venv").get("s", "k", [None]) is None


def test_a_cache_file_over_the_limit_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open("scope", "venv")
    store.put("s", "k", [None], "x" * 1000)
    store.save("scope")
    monkeypatch.setattr(cache, "MAX_FILE_BYTES", 100)
    assert Store.open("scope", "venv").get("s", "k", [None]) is None
    big = Store.open("scope", "venv")
    big.put("s", "k", [None], "y" * 1000)
    big.save("scope")  # too big to write: the old file goes, nothing half-written stays
    assert big.path is not None and not big.path.exists()


def test_writes_are_atomic_and_the_folder_is_bounded(
    _cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "MAX_FILES", 3)
    for n in range(6):
        store = Store.open(f"scope{n}", "venv")
        store.put("s", "k", [None], n)
        store.save(f"scope{n}")
    names = sorted(p.name for p in _cache_dir.iterdir())
    assert len(names) == 3
    assert not [n for n in names if n.endswith(".tmp")]


def test_an_unwritable_cache_folder_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV_DIR, str(blocker / "sub"))
    store = Store.open("scope", "venv")
    store.put("s", "k", [None], 1)
    store.save("scope")


def test_off_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_DIR, "off")
    assert cache.cache_dir() is None
    store = Store.open("scope", "venv")
    store.put("s", "k", [None], 1)
    store.save("scope")
    assert store.path is None


def test_default_folder_is_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cache.ENV_DIR)
    folder = cache.cache_dir()
    assert folder is not None and "webui-repair" in str(folder)


def test_fingerprint(tmp_path: Path) -> None:
    f = _old_file(tmp_path / "f")
    stamp = [[str(f), True, stat_key(f)], [str(tmp_path / "gone"), True, None]]
    assert fingerprint_ok(stamp)
    (tmp_path / "gone").write_text("")
    assert not fingerprint_ok(stamp)
    for bad in (None, 5, [[1]], [["a", True]], "text"):
        assert not fingerprint_ok(bad)


def test_every_field_of_a_distribution_can_be_cached() -> None:
    """A field of a type the cache cannot hold turns the metadata cache off (correct, but every
    check is then cold): extend ``_CACHED_TYPES`` with the new type."""
    from repair.cache.site import _dist_fields

    assert _dist_fields() is not None
