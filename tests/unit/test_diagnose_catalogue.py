"""Quality of the signature catalogue: compiles, matches its examples, stays apart, stays quiet
on healthy logs, and runs in linear time."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from repair.diagnose.catalogue import load_catalogue, parse_catalogue
from repair.diagnose.prefilter import KEY_LEN
from repair.diagnose.scan import Matcher, diagnose_file
from repair.diagnose.signature import CatalogueError, RebuildHelps

CATALOGUE = load_catalogue()
HEALTHY = sorted((Path(__file__).parent.parent / "data" / "healthy-logs").glob("*.log"))
SIGS = list(CATALOGUE)
IDS = [s.id for s in SIGS]


def test_catalogue_is_large_and_covers_the_families() -> None:
    families = {s.family for s in CATALOGUE}
    assert len(CATALOGUE) >= 120  # raised as the catalogue grows
    assert {
        "numpy",
        "torch",
        "amd-gpu",
        "hf-stack",
        "pip-venv",
        "git",
        "system",
        "extensions",
    } <= families


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_pattern_matches_each_of_its_examples(sig) -> None:  # type: ignore[no-untyped-def]
    for example in sig.examples:
        assert sig.regex.search(example), example
    # Through the matcher too: the prefilter must let every example through.
    assert {m.signature.id for m in _match(sig.examples)} >= {sig.id}


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_no_pattern_matches_another_entrys_examples_unless_related(sig) -> None:  # type: ignore[no-untyped-def]
    if sig.generic:
        return  # a wrapper line ("Cannot import X module for custom nodes: <reason>") by design
    for other in CATALOGUE:
        if other.id == sig.id or CATALOGUE.related(sig.id, other.id):
            continue
        for example in other.examples:
            assert not sig.regex.search(example), f"{sig.id} fires on {other.id}: {example}"


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_entry_is_complete(sig) -> None:  # type: ignore[no-untyped-def]
    assert sig.cause and sig.remedy
    assert all(u.startswith("https://") for u in sig.source)
    assert isinstance(sig.rebuild_fixes, RebuildHelps)
    for other in sig.related:
        assert sig.id in CATALOGUE.get(other).related, f"{sig.id} -> {other} is one-way"


@pytest.mark.parametrize("log", HEALTHY, ids=[p.name for p in HEALTHY])
def test_nothing_fires_on_a_healthy_start_up_log(log: Path) -> None:
    result = diagnose_file(log)
    assert result.healthy, [(m.signature.id, m.text) for m in result.matches]
    assert result.lines == len(log.read_bytes().splitlines())


def test_healthy_corpus_covers_each_web_ui() -> None:
    names = " ".join(p.name for p in HEALTHY)
    for ui in ("a1111", "forge", "comfyui", "sdnext", "amdgpu"):
        assert ui in names


def _adversarial(sig) -> list[str]:  # type: ignore[no-untyped-def]
    size = 100_000
    lines = [c * size for c in "a \\'\"0.:/-_("]
    for lit in sig.literals:
        text = lit.decode("utf-8", "replace")
        lines.append((text + " ") * (size // (len(text) + 1)))
        lines.append(text + "x" * size)
    for example in sig.examples:
        head = example[: max(1, len(example) - 1)]
        lines.append((head + " ") * (size // (len(head) + 1)))
        lines.append(example[: len(example) // 2] + "a" * size)
    return lines


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_linear_time_on_long_adversarial_lines(sig) -> None:  # type: ignore[no-untyped-def]
    lines = _adversarial(sig)
    start = time.perf_counter()
    _match(lines)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{sig.id}: {elapsed:.2f}s on {len(lines)} lines of 100k characters"


def test_bad_catalogue_lines_are_refused() -> None:
    good = (
        '{"id": "a-b", "family": "x", "pattern": "some error", "examples": ["some error"], '
        '"cause": "c", "remedy": "r", "rebuild_fixes": "no", "restart_needed": false, '
        '"source": ["https://example.org/1"]}'
    )
    assert len(parse_catalogue([good])) == 1
    for bad, why in [
        ("{", "not JSON"),
        (good.replace('"some error", "ex', '"(", "ex'), "does not compile"),
        (good.replace('"no"', '"maybe"'), "rebuild_fixes"),
        (good.replace('"a-b"', '"A B"'), "kebab-case"),
        (good.replace('"pattern": "some error"', '"pattern": "\\\\w+"'), "prefilter"),
        (good.replace('"source": ["https://example.org/1"]', '"source": []'), "source"),
    ]:
        with pytest.raises(CatalogueError, match=why):
            parse_catalogue([bad])
    with pytest.raises(CatalogueError, match="twice"):
        parse_catalogue([good, good])


def _match(lines):  # type: ignore[no-untyped-def]
    from repair.diagnose.scan import diagnose_lines

    return diagnose_lines(lines, CATALOGUE).matches


def test_prefilter_keys_cover_every_literal() -> None:
    exact, folded = CATALOGUE.keys
    for sig in CATALOGUE:
        keyset = folded if sig.ignore_case else exact
        for lit in sig.literals:
            assert any(key in lit and (sig, lit) in keyset.pairs[key] for key in keyset.keys), (
                sig.id,
                lit,
            )
    # One pass of one expression per case mode, whatever the size of the catalogue.
    assert exact.regex is not None
    assert all(len(key) <= KEY_LEN for key in exact.keys + folded.keys)
    assert Matcher(CATALOGUE).catalogue is CATALOGUE


def _entry(sid: str, pattern: str) -> str:
    return json.dumps(
        {
            "id": sid,
            "family": "x",
            "pattern": pattern,
            "examples": [pattern],
            "cause": "c",
            "remedy": "r",
            "rebuild_fixes": "no",
            "restart_needed": False,
            "source": ["https://example.org/1"],
        }
    )


@pytest.mark.parametrize(
    "line",
    [
        "XQZW1234QRS and more",  # the second literal starts inside the first
        "xx W1234QRS XQZW1234 yy",  # both, apart
        "VXQZW1234QRSV",
    ],
)
def test_overlapping_keys_do_not_hide_each_other(line: str) -> None:
    from repair.diagnose.scan import diagnose_lines

    cat = parse_catalogue(
        [_entry("first", "XQZW1234"), _entry("second", "W1234QRS"), _entry("folded", "(?i)qzw1234")]
    )
    found = {m.signature.id for m in diagnose_lines([line], cat).matches}
    assert found >= {"first", "second"}
    assert ("folded" in found) == ("XQZW1234" in line)


HELDOUT = Path(__file__).parent.parent.parent / "benchmarks" / "diagnose-heldout.jsonl"


def test_heldout_lines_stay_out_of_the_catalogue_and_are_recognised() -> None:
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line]
    quoted = {u for sig in CATALOGUE for u in sig.source}
    examples = {e for sig in CATALOGUE for e in sig.examples}
    assert rows and all(r["source"].startswith("https://") for r in rows)
    assert not [r for r in rows if r["source"] in quoted or r["line"] in examples]
    from repair.diagnose.scan import diagnose_lines

    found = sum(1 for r in rows if not diagnose_lines([r["line"]], CATALOGUE).healthy)
    assert found / len(rows) >= 0.9, f"recall {found}/{len(rows)}"


def _variants(line: str) -> list[str]:
    """Unseen variants of an example: other versions, other drives, users and folders."""
    import re

    def bump(m: re.Match[str]) -> str:
        parts = m.group().split(".")
        return ".".join(parts[:-1] + [str(int(parts[-1]) + 3)])

    out = [
        re.sub(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.])", bump, line),
        re.sub(r"\b[A-Z]:\\", r"Q:\\", line),
        re.sub(r"(?i)\\Users\\[^\\]+\\", r"\\Users\\Some One\\", line),
        re.sub(r"/home/[^/]+/", "/home/someone/", line),
        line.replace("stable-diffusion-webui", "sd webui 2").replace("ComfyUI", "Comfy_2"),
    ]
    return [v for v in dict.fromkeys(out) if v != line]


# Patterns that name a version or a folder on purpose (the versions that fail, MSVC 14.0).
_LITERAL = re.compile(r"\d\\\.\d")


@pytest.mark.parametrize("sig", SIGS, ids=IDS)
def test_pattern_generalises_over_versions_and_paths(sig) -> None:  # type: ignore[no-untyped-def]
    if _LITERAL.search(sig.pattern):
        return
    from repair.diagnose.scan import diagnose_lines

    for example in sig.examples:
        for variant in _variants(example):
            found = {m.signature.id for m in diagnose_lines([variant], CATALOGUE).matches}
            assert sig.id in found, variant


def test_no_remedy_loses_what_the_user_installed() -> None:
    for sig in list(CATALOGUE) + list(CATALOGUE.shapes):
        text = sig.remedy.lower()
        assert "--clean-venv" not in text and "delete the venv" not in text, sig.id
        assert "delete and recreate the venv" not in text, sig.id
        assert sig.repair_command in (None, "repair") or "--clean-venv" not in str(
            sig.repair_command
        ), sig.id
