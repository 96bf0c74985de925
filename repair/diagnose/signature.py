"""One known error as the diagnosis matches it: a ``Signature`` (a catalogue entry or a
structural shape), compiled from its JSON fields, validated, and reduced to the literal strings
that every match of its pattern must contain (for the prefilter)."""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import re._parser as _sre_parse
else:  # pragma: no cover - 3.10
    import sre_parse as _sre_parse

# Shortest literal a pattern may be prefiltered on.
MIN_LITERAL = 4


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


_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

_FIELDS = (
    "id",
    "family",
    "pattern",
    "examples",
    "cause",
    "remedy",
    "rebuild_fixes",
    "restart_needed",
    "source",
)


@dataclass(frozen=True, eq=False)  # identity: hashed per candidate line, it must be cheap
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
    # A structural matcher (repair.diagnose.shapes): a general shape of failure whose named groups
    # are pulled out of the line, rather than a catalogue entry.
    shape: str | None = field(compare=False, default=None)
    # The entry only says that a node, an extension or a module failed to load: a structural
    # match on the same line (what failed) leads the cause.
    generic: bool = False

    @property
    def repair_command(self) -> str | None:
        """The smallest ``repair`` that fixes the cause. Plain ``repair`` plans the smallest fix
        itself (a mixed package is reinstalled, a broken venv recreated): ``--clean-venv`` is never
        the default, it would rebuild what plain ``repair`` fixes in place."""
        if self.command:
            return self.command
        if self.rebuild_fixes is RebuildHelps.NO:
            return None
        return "repair"


def _required_literals(pattern: str, ignore_case: bool) -> tuple[str, ...]:
    """Literal strings of which every match of ``pattern`` contains at least one.

    Walks the parsed expression: a sequence needs the best literal run (or group) within it, an
    alternation needs one of its branches' requirements. Empty when nothing is certain."""
    parser: Any = _sre_parse
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
    if (
        not isinstance(examples, list)
        or not examples
        or not all(isinstance(e, str) for e in examples)
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
        generic=bool(raw.get("generic", False)),
        regex=regex,
        literals=tuple(s.encode("utf-8") for s in literals),
        ignore_case=ignore_case,
    )
