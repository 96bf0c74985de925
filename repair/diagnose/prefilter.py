"""The prefilter: one trie-shaped alternation of short search keys, one per required literal.
Each pattern is reduced, once, to the literal strings that any match of it must contain; each
literal is represented by a short search key (its substring that is rarest in ordinary start-up
logs, starting with a rare byte), and all keys are compiled, once, into one alternation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from repair.diagnose.signature import Signature

# Longest and shortest prefilter key.
KEY_LEN = 8
KEY_MIN = 4

Pair = tuple["Signature", bytes]


@dataclass(frozen=True)
class KeySet:
    """Search keys for one case mode (exact, or lower-cased text): a compiled alternation of the
    keys, and for each key the (signature, literal) pairs a line must then be checked for."""

    keys: tuple[bytes, ...]
    regex: re.Pattern[bytes] | None
    # key -> pairs of that key and of every key a match of it can hide (see _hidden)
    pairs: dict[bytes, tuple[Pair, ...]]


def _ordinary_text() -> bytes:
    """The lines of healthy start-up logs shipped with the tool: what a key should not match."""
    # lazy: importlib.resources is slow to import; only building a prefilter needs it
    from importlib.resources import files

    return (files("repair") / "data" / "ordinary-lines.txt").read_bytes()


def _anchors(lits: set[bytes], freq: list[int]) -> set[int]:
    """Bytes that start the keys: a small set of bytes rare in ordinary lines of which every
    literal holds one (greedy weighted set cover). The scan stops only at these bytes."""
    starts = {lit: set(_key_starts(lit)) for lit in lits}
    left = set(lits)
    chosen: set[int] = set()
    while left:
        byte = max(
            (b for b in range(256) if b not in chosen),
            key=lambda b: (sum(1 for lit in left if b in starts[lit]) / (freq[b] + 1), -b),
        )
        chosen.add(byte)
        left = {lit for lit in left if byte not in starts[lit]}
    return chosen


def _key_starts(lit: bytes) -> bytes:
    """The bytes of ``lit`` that a key of KEY_MIN bytes (or the whole literal) can start at."""
    return lit[: len(lit) - min(KEY_MIN, len(lit)) + 1]


def _choose_key(lit: bytes, anchors: set[int], ordinary: bytes) -> bytes:
    """The substring of ``lit`` to search for: it starts at an anchor byte, is as rare as
    possible in ordinary lines (fewer candidate lines) and as long as possible."""
    subs = {lit[j : j + KEY_LEN] for j, b in enumerate(_key_starts(lit)) if b in anchors}
    return min(subs, key=lambda k: (ordinary.count(k), -len(k), k))


def _trie_pattern(keys: list[bytes]) -> bytes:
    """An alternation of ``keys`` shaped as a trie, so that the engine tries at most one branch
    per byte and a match is the longest key at its position."""
    trie: dict[int, Any] = {}
    for key in keys:
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = {}

    def emit(node: dict[int, Any]) -> bytes:
        alts = [re.escape(bytes([b])) + emit(child) for b, child in sorted(node.items()) if b >= 0]
        if not alts:
            return b""
        body = alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"
        if -1 in node:
            body = b"(?:" + body + b")?"
        return body

    return emit(trie)


def _hidden(key: bytes, keys: list[bytes]) -> list[bytes]:
    """The keys whose occurrence a match of ``key`` can hide from a left-to-right scan: keys
    inside it, and keys that start inside it and run past its end."""
    out = []
    for other in keys:
        if other in key or any(key.endswith(other[:n]) for n in range(1, len(other))):
            out.append(other)
    return out


def _key_set(sigs: list[Signature], ordinary: bytes) -> KeySet:
    freq = [0] * 256
    for byte in ordinary:
        freq[byte] += 1
    anchors = _anchors({lit for sig in sigs for lit in sig.literals}, freq)
    own: dict[bytes, list[Pair]] = {}
    for sig in sigs:
        for lit in sig.literals:
            own.setdefault(_choose_key(lit, anchors, ordinary), []).append((sig, lit))
    keys = sorted(own)
    if not keys:
        return KeySet((), None, {})
    pairs = {
        key: tuple(dict.fromkeys(p for other in _hidden(key, keys) for p in own[other]))
        for key in keys
    }
    return KeySet(tuple(keys), re.compile(_trie_pattern(keys)), pairs)
