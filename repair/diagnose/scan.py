"""Streaming a log through the prefilter and the expressions.

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

import codecs
import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from repair.diagnose.catalogue import Catalogue, load_catalogue
from repair.diagnose.causes import Diagnosis, Match, Names, group
from repair.diagnose.prefilter import KeySet, Pair
from repair.diagnose.shapes import BENIGN, FRAME, KEY_NAMES, NODE, node_of
from repair.diagnose.signature import Signature
from repair.errors import UsageError

# How much of a log is read at once, and the longest line kept whole before it is cut.
BLOCK_SIZE = 1 << 20
MAX_LINE = 1 << 20
# Lines longer than this are matched in windows of WINDOW bytes either side of a literal hit.
LONG_LINE = 4096
WINDOW = 1024
# Matches kept per signature (the count goes on): memory stays flat on logs that repeat an error.
KEEP_PER_SIGNATURE = 3
# Distinct names kept per structural matcher (one cause each): a log that fails on every module
# of a venv still tells the first few.
KEEP_PER_SHAPE = 20
# Literal hits of an over-long line that a structural matcher searches around.
SHAPE_WINDOWS = 8
# How many lines after a traceback frame inside a node or an extension an error is still its
FRAME_REACH = 3
# Longest text of a matched line kept in a report.
MAX_TEXT = 400


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
        self.shaped: dict[tuple[str, str], list[Match]] = {}  # (shape id, name) -> matches
        self.shape_counts: dict[tuple[str, str], int] = {}
        self._frame: tuple[int, str] | None = None  # the last node frame: (line, node)

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
                    offsets = _offsets(hay, lit)
                    if sig.shape:
                        # A general shape looks at the first few hits of an over-long line only:
                        # its literals ("No module named") are common, and the catalogue entry
                        # that shares them still searches the whole line.
                        offsets = offsets[:SHAPE_WINDOWS]
                    found = self._search(sig, raw, offsets)
                    if found is not None:
                        self._record(sig, line_no, *found)
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
    def _search(sig: Signature, raw: bytes, offsets: list[int]) -> tuple[str, Names] | None:
        """The text of the match of ``sig`` in line ``raw`` and the names its groups pulled out,
        or None. Long lines are searched in windows around the literal hits, which bounds the
        cost of any expression."""
        if len(raw) <= LONG_LINE:
            line = raw.decode("utf-8", "replace")
            m = sig.regex.search(line)
            return (_clip(line, m.start(), m.end()), _names(m)) if m else None
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
                return _clip(text, m.start(), m.end()).strip("\0"), _names(m)
        return None

    def _record(self, sig: Signature, line_no: int, text: str, names: Names) -> None:
        self._last[sig.id] = line_no
        if sig.shape:
            self._record_shape(sig, line_no, text, names)
            return
        node = self._node_at(line_no)
        self.counts[sig.id] = self.counts.get(sig.id, 0) + 1
        kept = self.kept.setdefault(sig.id, [])
        if len(kept) < KEEP_PER_SIGNATURE:
            kept.append(Match(sig, line_no, text, node=node))

    def _node_at(self, line_no: int) -> str | None:
        if self._frame is not None and 0 <= line_no - self._frame[0] <= FRAME_REACH:
            return self._frame[1]
        return None

    def _record_shape(self, sig: Signature, line_no: int, text: str, names: Names) -> None:
        named = dict(names)
        if BENIGN.search(text):
            return
        if sig.shape == FRAME:
            self._frame = (line_no, named.get("node", ""))
            return
        node = node_of(named.get("path", "")) if sig.shape == NODE else self._node_at(line_no)
        name = next((named[k] for k in KEY_NAMES if named.get(k)), "") or (node or "")
        key = (sig.id, name)
        kept = self.shaped.get(key)
        if kept is None:
            if sum(1 for k in self.shaped if k[0] == sig.id) >= KEEP_PER_SHAPE:
                return
            kept = self.shaped[key] = []
        self.shape_counts[key] = self.shape_counts.get(key, 0) + 1
        if len(kept) < KEEP_PER_SIGNATURE:
            kept.append(Match(sig, line_no, text, names, node))

    def result(self) -> Diagnosis:
        return Diagnosis(
            group(self.catalogue, self.kept, self.counts, self.shaped, self.shape_counts),
            self.lines,
        )


def _names(m: re.Match[str]) -> Names:
    """The named groups a match filled in ("req2" and the like read as their first spelling)."""
    out: dict[str, str] = {}
    for key, value in m.groupdict().items():
        if value:
            out.setdefault(key.rstrip("0123456789"), value.strip().strip("\0"))
    return tuple(out.items())


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
    with open(path, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise OSError(errno.EINVAL, "a device, not a log file", str(path))
        return diagnose_stream(fh, catalogue)


def diagnose_log(path: str | Path, catalogue: Catalogue | None = None) -> Diagnosis:
    """Match a log file named by the user: a missing, unreadable or directory path is a
    UsageError (exit 2) with one line that says which."""
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
