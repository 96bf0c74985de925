"""Read a start-up or crash log and name what is wrong.

The signature catalogue (``repair/data/signatures.jsonl``) holds one known error per line: a
regular expression, verbatim example lines, the cause, the remedy, whether rebuilding the
environment fixes it (``yes``, ``partly``, ``no``), whether the application must be restarted, and
the public reports it was seen in.

Matching streams the log in blocks of bytes and never holds more than one block (plus one
over-long line, capped) in memory. Each pattern is reduced, once, to the literal strings that any
match of it must contain (its prefilter); a block is searched for those literals with
``bytes.find`` and only the lines that contain one are decoded and matched with the full
expression. Over-long lines are matched in bounded windows around each literal hit, so the cost of
a line grows linearly with its length whatever the expression.
"""

from __future__ import annotations

import enum
import functools
import json
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
# Lengths of the shared prefilter keys.
KEY_MIN = 4
KEY_MAX = 12
# Cost of a key's occurrence per KB of ordinary text, in passes over a block.
ORDINARY_WEIGHT = 6.0

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


KeyTable = list[tuple[bytes, tuple[tuple[Signature, bytes], ...]]]


def _cover(sigs: list[Signature]) -> KeyTable:
    """Greedy set cover of the (signature, literal) pairs by substrings of the literals.

    A pass of ``bytes.find`` over a block costs about the same whatever the key, and every line
    a key lets through costs a decode and a regex: a key's cost is one pass plus how often it
    occurs in ordinary start-up lines. The greedy choice (lazy, with a heap) takes the key that
    covers the most pairs per unit of cost."""
    import heapq

    pairs = [(sig, lit) for sig in sigs for lit in sig.literals]
    ordinary = _ordinary_counts()
    by_key: dict[bytes, set[int]] = {}
    for i, (_, lit) in enumerate(pairs):
        by_key.setdefault(lit, set()).add(i)  # the whole literal, so that every pair is covered
        for n in range(KEY_MIN, min(KEY_MAX, len(lit)) + 1):
            for j in range(len(lit) - n + 1):
                by_key.setdefault(lit[j : j + n], set()).add(i)

    def cost(key: bytes) -> float:
        # Measured: a pass with a 4-byte key takes about three times one with a 30-byte key.
        return 0.15 + 3.4 / len(key) + ORDINARY_WEIGHT * ordinary.get(key, 0)

    heap = [(-len(ids) / cost(k), k) for k, ids in by_key.items()]
    heapq.heapify(heap)
    left = set(range(len(pairs)))
    table: KeyTable = []
    while left and heap:
        score, key = heapq.heappop(heap)
        got = by_key[key] & left
        fresh = -len(got) / cost(key)
        if not got:
            continue
        if heap and fresh > heap[0][0]:  # stale score: push back with the true one
            heapq.heappush(heap, (fresh, key))
            continue
        left -= got
        table.append((key, tuple(pairs[i] for i in sorted(got))))
    return table


def _ordinary_counts() -> dict[bytes, float]:
    """Occurrences per kilobyte of every 4..12-byte string in the lines of healthy start-up logs
    shipped with the tool: how often a prefilter key would fire on an ordinary log."""
    from importlib.resources import files

    text = (files("repair") / "data" / "ordinary-lines.txt").read_bytes()
    counts: dict[bytes, float] = {}
    unit = 1024 / max(len(text), 1)
    for line in text.splitlines():
        for n in range(KEY_MIN, KEY_MAX + 1):
            for j in range(len(line) - n + 1):
                key = line[j : j + n]
                counts[key] = counts.get(key, 0.0) + unit
    return counts


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
    def keys(self) -> tuple[KeyTable, KeyTable]:
        """The prefilter: a few short strings that together occur in every pattern's required
        literals, so that a block is searched a few times rather than once per pattern. Two
        tables: keys searched as they are, and keys searched in the lower-cased block."""
        return _cover([s for s in self if not s.ignore_case]), _cover(
            [s for s in self if s.ignore_case]
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
        hits: dict[int, set[tuple[Signature, bytes]]] = {}  # line start -> (signature, literal)
        spots: dict[tuple[int, str], list[int]] = {}  # (line start, sig id) -> hit offsets
        self._scan(block, self._exact, hits, spots)
        folded = block.lower() if self._folded else b""
        if self._folded:
            self._scan(folded, self._folded, hits, spots)
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
                for sig, lit in sorted(hits[start], key=lambda c: c[0].id):
                    if self._last.get(sig.id) == line_no:
                        continue
                    if lit not in (folded if sig.ignore_case else block)[start:end]:
                        continue
                    text = self._search(sig, raw, [o - start for o in spots[(start, sig.id)]])
                    if text is not None:
                        self._record(sig, line_no, text)
        newlines = block.count(b"\n")
        self.lines += newlines + (1 if complete and not block.endswith(b"\n") else 0)

    @staticmethod
    def _scan(
        data: bytes,
        table: list[tuple[bytes, tuple[tuple[Signature, bytes], ...]]],
        hits: dict[int, set[tuple[Signature, bytes]]],
        spots: dict[tuple[int, str], list[int]],
    ) -> None:
        find = data.find
        rfind = data.rfind
        for key, sigs in table:
            pos = find(key)
            start = end = -1
            while pos >= 0:
                if pos >= end:  # a new line: find its bounds once, however many hits it has
                    start = rfind(b"\n", 0, pos) + 1
                    end = find(b"\n", pos)
                    if end < 0:
                        end = len(data)
                    hits.setdefault(start, set()).update(sigs)
                for sig, _ in sigs:
                    spots.setdefault((start, sig.id), []).append(pos)
                pos = find(key, pos + len(key))

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
    """Match a log file. Raises OSError when it cannot be read."""
    with open(path, "rb") as fh:
        return diagnose_stream(fh, catalogue)


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
