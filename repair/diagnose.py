"""Read a start-up or crash log and name what is wrong.

The signature catalogue (``repair/data/signatures.jsonl``) holds one known error per line: a
regular expression, verbatim example lines, the cause, the remedy, whether rebuilding the
environment fixes it (``yes``, ``partly``, ``no``), whether the application must be restarted, and
the public reports it was seen in.

Matching streams the log in blocks of bytes and never holds more than one block (plus one
over-long line, capped) in memory. Each pattern is reduced, once, to the literal strings that any
match of it must contain; each literal is represented by a short search key (its substring that is
rarest in ordinary start-up logs, starting with a rare byte), and all keys are compiled, once, into
one trie-shaped alternation. One ``finditer`` pass of that expression over a block finds the
candidate lines; only those are checked for the full literals, decoded and matched with the full
expressions. Over-long lines are matched in bounded windows around each literal hit, so the cost
of a line grows linearly with its length whatever the expression.
"""

from __future__ import annotations

import enum
import errno
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from repair.checks.registry import finding_type
from repair.model import Finding, Fix, Severity

SCHEMA = "repair.diagnosis/1"

# How much of a log is read at once, and the longest line kept whole before it is cut.
BLOCK_SIZE = 1 << 20
MAX_LINE = 1 << 20
# Lines longer than this are matched in windows of WINDOW bytes either side of a literal hit.
LONG_LINE = 4096
WINDOW = 1024
# Matches kept per signature (the count goes on): memory stays flat on logs that repeat an error.
KEEP_PER_SIGNATURE = 3
# Longest text of a matched line kept in a report.
MAX_TEXT = 400
# Shortest literal a pattern may be prefiltered on.
MIN_LITERAL = 4
# Longest and shortest prefilter key.
KEY_LEN = 8
KEY_MIN = 4

LOG_SIGNATURE = finding_type(
    "log-signature",
    "A log shows a known error",
    Severity.ERROR,
    Fix.MANUAL,
)


class CatalogueError(Exception):
    """The signature catalogue is malformed."""


class RebuildHelps(str, enum.Enum):
    """Whether deleting and recreating the environment fixes a signature's cause."""

    YES = "yes"
    PARTLY = "partly"
    NO = "no"

    @property
    def rank(self) -> int:
        """Lower is more pessimistic: a group of causes is as fixable as its worst member."""
        return {"no": 0, "partly": 1, "yes": 2}[self.value]


# What to fix first: the interpreter and venv before packages, packages before the GPU stack,
# the environment before the machine. Within a rank, the cause seen first in the log leads.
FAMILY_ORDER = (
    "pip-venv",
    "git",
    "numpy",
    "python-deps",
    "torch",
    "hf-stack",
    "extensions",
    "amd-gpu",
    "intel-gpu",
    "system",
)

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_FIELDS = ("id", "family", "pattern", "examples", "cause", "remedy", "rebuild_fixes",
           "restart_needed", "source")


@dataclass(frozen=True)
class Signature:
    id: str
    family: str
    pattern: str
    examples: tuple[str, ...]
    cause: str
    remedy: str
    rebuild_fixes: RebuildHelps
    restart_needed: bool
    source: tuple[str, ...]
    related: tuple[str, ...] = ()
    # The repair command that fixes it, where one does (else derived from rebuild_fixes).
    command: str | None = None
    regex: re.Pattern[str] = field(repr=False, compare=False, default=re.compile(""))
    # Literal byte strings of which every match contains at least one (lower-case when the
    # pattern ignores case).
    literals: tuple[bytes, ...] = field(repr=False, compare=False, default=())
    ignore_case: bool = field(repr=False, compare=False, default=False)

    @property
    def repair_command(self) -> str | None:
        if self.command:
            return self.command
        if self.rebuild_fixes is RebuildHelps.NO:
            return None
        return "repair --clean-venv"


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


@dataclass(frozen=True)
class Catalogue:
    signatures: tuple[Signature, ...]

    def __len__(self) -> int:
        return len(self.signatures)

    def __iter__(self) -> Iterator[Signature]:
        return iter(self.signatures)

    def get(self, id: str) -> Signature:
        for sig in self.signatures:
            if sig.id == id:
                return sig
        raise KeyError(id)

    def related(self, a: str, b: str) -> bool:
        return b in self.get(a).related or a in self.get(b).related

    @functools.cached_property
    def keys(self) -> tuple[KeySet, KeySet]:
        """The prefilter, built once per catalogue: keys searched in the block as it is, and keys
        (lower-case) searched in the lower-cased block for patterns that ignore case."""
        ordinary = _ordinary_text()
        return (
            _key_set([s for s in self if not s.ignore_case], ordinary),
            _key_set([s for s in self if s.ignore_case], ordinary.lower()),
        )


@dataclass(frozen=True)
class Match:
    signature: Signature
    line: int  # 1-based line number in the log
    text: str

    def to_json(self) -> dict[str, Any]:
        sig = self.signature
        return {
            "id": sig.id,
            "family": sig.family,
            "line": self.line,
            "text": self.text,
            "cause": sig.cause,
            "remedy": sig.remedy,
            "rebuild_helps": sig.rebuild_fixes.value,
            "restart_needed": sig.restart_needed,
            "source": list(sig.source),
        }


@dataclass(frozen=True)
class Cause:
    """Matches of related signatures, told as one cause. The first signature leads."""

    signatures: tuple[Signature, ...]
    matches: tuple[Match, ...]
    count: int  # matching lines, including those not kept

    @property
    def lead(self) -> Signature:
        return self.signatures[0]

    @property
    def rebuild_helps(self) -> RebuildHelps:
        return min((s.rebuild_fixes for s in self.signatures), key=lambda r: r.rank)

    @property
    def restart_needed(self) -> bool:
        return any(s.restart_needed for s in self.signatures)

    @property
    def command(self) -> str | None:
        if self.rebuild_helps is RebuildHelps.NO:
            return None
        return self.lead.repair_command

    @property
    def first_line(self) -> int:
        return min(m.line for m in self.matches)

    def to_json(self) -> dict[str, Any]:
        return {
            "ids": [s.id for s in self.signatures],
            "family": self.lead.family,
            "lines": sorted({m.line for m in self.matches}),
            "count": self.count,
            "cause": self.lead.cause,
            "remedy": self.lead.remedy,
            "rebuild_helps": self.rebuild_helps.value,
            "restart_needed": self.restart_needed,
            "command": self.command,
        }


@dataclass(frozen=True)
class Diagnosis:
    causes: tuple[Cause, ...]
    lines: int  # lines read

    @property
    def matches(self) -> tuple[Match, ...]:
        return tuple(sorted((m for c in self.causes for m in c.matches), key=lambda m: m.line))

    @property
    def healthy(self) -> bool:
        return not self.causes

    @property
    def verdict(self) -> str:
        return verdict(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "matches": [m.to_json() for m in self.matches],
            "causes": [c.to_json() for c in self.causes],
            "lines": self.lines,
            "verdict": self.verdict,
        }


# --- the catalogue -----------------------------------------------------------------------------


def _sre_parser() -> Any:
    try:
        import re._parser as parser  # 3.11+
    except ImportError:  # 3.10
        import sre_parse as parser
    return parser


def _required_literals(pattern: str, ignore_case: bool) -> tuple[str, ...]:
    """Literal strings of which every match of ``pattern`` contains at least one.

    Walks the parsed expression: a sequence needs the best literal run (or group) within it, an
    alternation needs one of its branches' requirements. Empty when nothing is certain."""
    parser = _sre_parser()
    consts = parser  # the opcodes are re-exported by the parser module
    tree = parser.parse(pattern)
    repeats = tuple(
        getattr(consts, name)
        for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
        if hasattr(consts, name)
    )

    def best(options: list[tuple[str, ...]]) -> tuple[str, ...]:
        options = [o for o in options if o and all(o)]
        if not options:
            return ()
        # The shortest literal in a set bounds how selective it is; fewer alternatives is better.
        return max(options, key=lambda o: (min(len(s) for s in o), -len(o)))

    def seq(items: Any) -> tuple[str, ...]:
        candidates: list[tuple[str, ...]] = []
        run: list[str] = []

        def flush() -> None:
            if run:
                candidates.append(("".join(run),))
                run.clear()

        for op, av in items:
            if op is consts.LITERAL:
                run.append(chr(av))
                continue
            if op in (consts.AT, consts.ASSERT_NOT, consts.ASSERT):
                # Zero-width: does not break a run of literals on either side... except that
                # a lookaround's text is not part of the match; keep the run anyway, it is still
                # present in the line around the match.
                if op is consts.AT:
                    continue
                flush()
                continue
            flush()
            if op is consts.SUBPATTERN:
                candidates.append(seq(av[-1]))
            elif op is consts.BRANCH:
                branches = [seq(b) for b in av[1]]
                if all(branches):
                    candidates.append(tuple(s for b in branches for s in b))
            elif op in repeats and av[0] >= 1:
                candidates.append(seq(av[2]))
            elif getattr(consts, "ATOMIC_GROUP", None) is op:
                candidates.append(seq(av))
        flush()
        return best(candidates)

    found = seq(tree)
    if ignore_case:
        found = tuple(s.lower() for s in found)
    return tuple(dict.fromkeys(found))


def _compile(raw: dict[str, Any], where: str) -> Signature:
    missing = [f for f in _FIELDS if f not in raw]
    if missing:
        raise CatalogueError(f"{where}: missing {', '.join(missing)}")
    sid = raw["id"]
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        raise CatalogueError(f"{where}: id {sid!r} is not kebab-case")
    try:
        regex = re.compile(raw["pattern"])
    except re.error as exc:
        raise CatalogueError(f"{where}: {sid}: pattern does not compile: {exc}") from exc
    try:
        rebuild = RebuildHelps(raw["rebuild_fixes"])
    except ValueError as exc:
        raise CatalogueError(f"{where}: {sid}: rebuild_fixes must be yes, partly or no") from exc
    examples = raw["examples"]
    if not isinstance(examples, list) or not examples or not all(
        isinstance(e, str) for e in examples
    ):
        raise CatalogueError(f"{where}: {sid}: examples must be a non-empty list of lines")
    if not isinstance(raw["source"], list) or not raw["source"]:
        raise CatalogueError(f"{where}: {sid}: source must list at least one URL")
    ignore_case = bool(regex.flags & re.IGNORECASE)
    literals = _required_literals(raw["pattern"], ignore_case)
    if not literals or min(len(s) for s in literals) < MIN_LITERAL:
        raise CatalogueError(
            f"{where}: {sid}: pattern needs a literal of {MIN_LITERAL}+ characters in every "
            "alternative (the prefilter)"
        )
    return Signature(
        id=sid,
        family=str(raw["family"]),
        pattern=raw["pattern"],
        examples=tuple(examples),
        cause=str(raw["cause"]),
        remedy=str(raw["remedy"]),
        rebuild_fixes=rebuild,
        restart_needed=bool(raw["restart_needed"]),
        source=tuple(raw["source"]),
        related=tuple(raw.get("related", ())),
        command=raw.get("command"),
        regex=regex,
        literals=tuple(s.encode("utf-8") for s in literals),
        ignore_case=ignore_case,
    )


def parse_catalogue(lines: Iterable[str], where: str = "catalogue") -> Catalogue:
    """Parse and validate catalogue lines (JSON objects, one a line; blank lines skipped)."""
    sigs: list[Signature] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CatalogueError(f"{where}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(raw, dict):
            raise CatalogueError(f"{where}:{number}: not a JSON object")
        sig = _compile(raw, f"{where}:{number}")
        if sig.id in seen:
            raise CatalogueError(f"{where}:{number}: id {sig.id!r} appears twice")
        seen.add(sig.id)
        sigs.append(sig)
    for sig in sigs:
        for other in sig.related:
            if other not in seen:
                raise CatalogueError(f"{where}: {sig.id}: related id {other!r} is not in it")
    return Catalogue(tuple(sigs))


_DEFAULT: Catalogue | None = None


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue shipped with the tool (cached), or one read from ``path``."""
    global _DEFAULT
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            return parse_catalogue(fh, str(path))
    if _DEFAULT is None:
        from importlib.resources import files

        text = (files("repair") / "data" / "signatures.jsonl").read_text(encoding="utf-8")
        _DEFAULT = parse_catalogue(text.splitlines(), "signatures.jsonl")
    return _DEFAULT


# --- matching ----------------------------------------------------------------------------------


class Matcher:
    """Feeds blocks of whole lines through the prefilter and the expressions.

    Keeps, per signature, the first few matches and a count: memory does not grow with the log.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._exact, self._folded = catalogue.keys
        self.kept: dict[str, list[Match]] = {}
        self.counts: dict[str, int] = {}
        self.lines = 0  # lines fed so far
        self._last: dict[str, int] = {}  # signature id -> last line counted

    def feed(self, block: bytes, *, complete: bool = True) -> None:
        """Match a block of lines separated by ``\\n``. With ``complete=False`` the block is the
        head of a line that goes on in the next block: its line is not counted as ended."""
        if not block:
            return
        hits: dict[int, set[Pair]] = {}  # line start -> (signature, literal) pairs to check
        self._scan(block, self._exact, hits)
        folded = block.lower() if self._folded.regex is not None else b""
        if folded:
            self._scan(folded, self._folded, hits)
        if hits:
            base = self.lines
            counted = 0
            last_start = 0
            for start in sorted(hits):
                counted += block.count(b"\n", last_start, start)
                last_start = start
                end = block.find(b"\n", start)
                if end < 0:
                    end = len(block)
                line_no = base + counted + 1
                raw = block[start:end]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                low = folded[start : start + len(raw)] if folded else b""
                for sig, lit in sorted(hits[start], key=lambda c: (c[0].id, c[1])):
                    if self._last.get(sig.id) == line_no:
                        continue
                    hay = low if sig.ignore_case else raw
                    if lit not in hay:
                        continue
                    text = self._search(sig, raw, _offsets(hay, lit))
                    if text is not None:
                        self._record(sig, line_no, text)
        newlines = block.count(b"\n")
        self.lines += newlines + (1 if complete and not block.endswith(b"\n") else 0)

    @staticmethod
    def _scan(data: bytes, keyset: KeySet, hits: dict[int, set[Pair]]) -> None:
        """One pass of the key alternation over ``data``: the pairs to check, by line start."""
        if keyset.regex is None:
            return
        rfind = data.rfind
        pairs = keyset.pairs
        line_start = line_end = -1
        for m in keyset.regex.finditer(data):
            pos = m.start()
            if pos >= line_end:  # a new line: find its bounds once, however many hits it has
                line_start = rfind(b"\n", 0, pos) + 1
                line_end = data.find(b"\n", pos)
                if line_end < 0:
                    line_end = len(data)
            hits.setdefault(line_start, set()).update(pairs[m.group()])

    @staticmethod
    def _search(sig: Signature, raw: bytes, offsets: list[int]) -> str | None:
        """The text of the match of ``sig`` in line ``raw``, or None. Long lines are searched
        in windows around the literal hits, which bounds the cost of any expression."""
        if len(raw) <= LONG_LINE:
            line = raw.decode("utf-8", "replace")
            m = sig.regex.search(line)
            return _clip(line, m.start(), m.end()) if m else None
        done = -1
        for off in sorted(offsets):
            if off < done:
                continue
            lo, hi = max(0, off - WINDOW), min(len(raw), off + 2 * WINDOW)
            done = hi - WINDOW  # the next window may start inside this one, not at its start
            # A NUL on a cut edge keeps ^ and $ from matching there.
            text = ("\0" if lo else "") + raw[lo:hi].decode("utf-8", "replace")
            text += "\0" if hi < len(raw) else ""
            m = sig.regex.search(text, 1 if lo else 0, len(text) - (1 if hi < len(raw) else 0))
            if m:
                return _clip(text, m.start(), m.end()).strip("\0")
        return None

    def _record(self, sig: Signature, line_no: int, text: str) -> None:
        self._last[sig.id] = line_no
        self.counts[sig.id] = self.counts.get(sig.id, 0) + 1
        kept = self.kept.setdefault(sig.id, [])
        if len(kept) < KEEP_PER_SIGNATURE:
            kept.append(Match(sig, line_no, text))

    def result(self) -> Diagnosis:
        return Diagnosis(_group(self.catalogue, self.kept, self.counts), self.lines)


def _offsets(hay: bytes, lit: bytes) -> list[int]:
    """Where ``lit`` occurs in a line; only over-long lines are searched around them."""
    if len(hay) <= LONG_LINE:
        return []
    out = []
    pos = hay.find(lit)
    while pos >= 0:
        out.append(pos)
        pos = hay.find(lit, pos + 1)
    return out


def _clip(line: str, start: int, end: int) -> str:
    line = line.strip()
    if len(line) <= MAX_TEXT:
        return line
    lo = max(0, min(start, len(line) - MAX_TEXT))
    return ("..." if lo else "") + line[lo : lo + MAX_TEXT] + "..."


def _group(catalogue: Catalogue, kept: dict[str, list[Match]],
           counts: dict[str, int]) -> tuple[Cause, ...]:
    ids = [s.id for s in catalogue if s.id in kept]  # catalogue order: the first one leads
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in ids:
        for b in catalogue.get(a).related:
            if b in parent:
                ra, rb = root(a), root(b)
                if ra != rb:
                    # Keep the earlier catalogue entry as the root.
                    first, second = sorted((ra, rb), key=ids.index)
                    parent[second] = first
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(root(i), []).append(i)
    causes = []
    for members in groups.values():
        sigs = tuple(catalogue.get(i) for i in members)
        matches = tuple(sorted((m for i in members for m in kept[i]), key=lambda m: m.line))
        causes.append(Cause(sigs, matches, sum(counts[i] for i in members)))

    def order(c: Cause) -> tuple[int, int]:
        fam = c.lead.family
        rank = FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER)
        return rank, c.first_line

    return tuple(sorted(causes, key=order))


def diagnose_lines(lines: Iterable[str | bytes], catalogue: Catalogue | None = None) -> Diagnosis:
    """Match an iterable of log lines (with or without their line endings). Streams: lines are
    gathered into blocks and dropped once matched."""
    matcher = Matcher(catalogue or load_catalogue())
    buf: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode("utf-8", "replace") if isinstance(line, str) else line
        data = data.rstrip(b"\r\n")
        if len(data) > MAX_LINE:
            if buf:
                matcher.feed(b"\n".join(buf) + b"\n")
                buf, size = [], 0
            _feed_long(matcher, data)
            continue
        buf.append(data)
        size += len(data) + 1
        if size >= BLOCK_SIZE:
            matcher.feed(b"\n".join(buf) + b"\n")
            buf, size = [], 0
    if buf:
        matcher.feed(b"\n".join(buf) + b"\n")
    return matcher.result()


def _feed_long(matcher: Matcher, data: bytes) -> None:
    step = MAX_LINE
    for lo in range(0, len(data), step):
        # Overlap the pieces so that a match across a cut is still seen.
        piece = data[max(0, lo - WINDOW) : lo + step]
        last = lo + step >= len(data)
        matcher.feed(piece + (b"\n" if last else b""), complete=last)


_BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _recode(stream: IO[bytes], decoder: Any) -> Iterator[bytes]:
    while data := stream.read(BLOCK_SIZE):
        yield decoder.decode(data).encode("utf-8")
    yield decoder.decode(b"", final=True).encode("utf-8")


def _blocks(stream: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Blocks of whole lines from a binary stream, as (block, complete). A line longer than
    MAX_LINE is cut into pieces that overlap by WINDOW bytes. A UTF-16 log (what Windows
    PowerShell's ``>`` writes) is re-encoded to UTF-8 as it is read."""
    head = stream.read(2)
    chunks: Iterator[bytes]
    for bom, encoding in _BOMS:
        if head == bom:
            import codecs

            chunks = _recode(stream, codecs.getincrementaldecoder(encoding)("replace"))
            break
    else:

        def plain() -> Iterator[bytes]:
            yield head
            while data := stream.read(BLOCK_SIZE):
                yield data

        chunks = plain()
    carry = b""
    for data in chunks:
        carry += data
        cut = carry.rfind(b"\n")
        if cut >= 0:
            yield carry[: cut + 1], True
            carry = carry[cut + 1 :]
        while len(carry) > MAX_LINE:
            yield carry[:MAX_LINE], False
            carry = carry[MAX_LINE - WINDOW :]
    if carry:
        yield carry, True


def diagnose_stream(stream: IO[bytes], catalogue: Catalogue | None = None) -> Diagnosis:
    """Match a binary stream (a file opened ``rb``, ``sys.stdin.buffer``)."""
    matcher = Matcher(catalogue or load_catalogue())
    for block, complete in _blocks(stream):
        matcher.feed(block, complete=complete)
    return matcher.result()


def diagnose_file(path: str | Path, catalogue: Catalogue | None = None) -> Diagnosis:
    """Match a log file (or a pipe: ``repair diagnose <(python launch.py)``). Raises OSError
    when it cannot be read, or is a device (``/dev/zero`` would never end)."""
    import stat

    with open(path, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise OSError(errno.EINVAL, "a device, not a log file", str(path))
        return diagnose_stream(fh, catalogue)


def diagnose_log(path: str | Path, catalogue: Catalogue | None = None) -> Diagnosis:
    """Match a log file named by the user: a missing, unreadable or directory path is a
    UsageError (exit 2) with one line that says which."""
    import os

    from repair.errors import UsageError

    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a log file")
    try:
        return diagnose_file(path, catalogue)
    except FileNotFoundError as exc:
        raise UsageError(f"no such log file: {path}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def match_text(text: str, catalogue: Catalogue | None = None) -> tuple[Match, ...]:
    """The signatures that one message (an import error, a traceback) matches, in line order.
    What ``check --deep`` calls with the output of a failed import probe."""
    return diagnose_lines(text.splitlines(), catalogue).matches


# --- telling it --------------------------------------------------------------------------------


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?])(?:\s|$)", text.strip())
    return m.group(1) if m else text.strip()


def verdict(diagnosis: Diagnosis) -> str:
    """One paragraph: what is wrong, whether ``repair`` can fix it, what to do."""
    causes = diagnosis.causes
    if not causes:
        return (
            f"No known problem found in {diagnosis.lines} lines. If the application still fails, "
            "run 'repair check' on the install, or share the log with the error in it."
        )
    parts = []
    n = len(causes)
    parts.append(
        f"{n} known problem{'s' if n > 1 else ''} found; fix {'them' if n > 1 else 'it'} "
        "in this order."
    )
    for i, cause in enumerate(causes, 1):
        lead = cause.lead
        head = f"{i}. {lead.id} (line {cause.first_line}): {_first_sentence(lead.cause)}"
        helps = cause.rebuild_helps
        if helps is RebuildHelps.YES:
            tail = f"`repair` can fix this: run '{cause.command}'."
        elif helps is RebuildHelps.PARTLY:
            tail = (
                f"Rebuilding the environment ('{cause.command}') may fix it, but the cause can "
                f"come back: {_first_sentence(lead.remedy)}"
            )
        else:
            tail = f"Rebuilding the environment will NOT help: {_first_sentence(lead.remedy)}"
        if cause.restart_needed:
            tail += " Restart the application afterwards."
        parts.append(f"{head} {tail}")
    return " ".join(parts)


def diagnosis_findings(diagnosis: Diagnosis) -> list[Finding]:
    """One ``log-signature`` finding per cause, for ``repair check --log``."""
    findings = []
    for cause in diagnosis.causes:
        lead = cause.lead
        helps = cause.rebuild_helps
        fix = Fix.RECREATE_VENV if helps is not RebuildHelps.NO else Fix.MANUAL
        if cause.command and cause.command != "repair --clean-venv":
            fix = Fix.RECLONE if "--reclone" in cause.command else Fix.MANUAL
        first = cause.matches[0]
        findings.append(
            LOG_SIGNATURE(
                lead.id,
                f"log line {first.line}: {first.text}",
                lead.remedy,
                fix=fix,
                restart_required=cause.restart_needed,
                signatures=[s.id for s in cause.signatures],
                lines=sorted({m.line for m in cause.matches}),
                count=cause.count,
                cause=lead.cause,
                rebuild_helps=helps.value,
                source=list(lead.source),
            )
        )
    return findings
