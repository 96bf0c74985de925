"""Matches told as causes: grouping, order, the verdict and the findings of ``check --log``.

Catalogue entries that are related form one cause. A structural match (``shapes``) on a line that
an entry also matched gives that cause its names (the module, the distribution, the path); one on
a line no entry knows is a cause of its own, one per name (one per missing module, say). A node or
extension that failed to load is a cause only when no other cause already names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from repair.checks.registry import finding_type
from repair.diagnose.catalogue import FAMILY_ORDER, Catalogue
from repair.diagnose.shapes import NODE, fill
from repair.diagnose.signature import RebuildHelps, Signature
from repair.model import Finding, FindingId, Fix, Severity

SCHEMA = "repair.diagnosis/1"

LOG_SIGNATURE = finding_type(
    FindingId.LOG_SIGNATURE,
    "A log shows a known error",
    Severity.ERROR,
    Fix.MANUAL,
)

Names = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Match:
    signature: Signature
    line: int  # 1-based line number in the log
    text: str
    # What a structural matcher pulled out of the line (module, name, path, req, spec, have...).
    names: Names = ()
    # The custom node or extension the traceback around the line runs in, if any.
    node: str | None = None

    @property
    def named(self) -> dict[str, str]:
        return dict(self.names)

    def to_json(self) -> dict[str, Any]:
        sig = self.signature
        out = {
            "id": sig.id,
            "family": sig.family,
            "line": self.line,
            "text": self.text,
            "cause": fill(sig.cause, self.named) if sig.shape else sig.cause,
            "remedy": fill(sig.remedy, self.named) if sig.shape else sig.remedy,
            "rebuild_helps": sig.rebuild_fixes.value,
            "restart_needed": sig.restart_needed,
            "source": list(sig.source),
        }
        if self.names:
            out["names"] = self.named
        if self.node:
            out["node"] = self.node
        return out


@dataclass(frozen=True)
class Tie:
    """A cause tied to the install: what owns the module or the path, how it stands, and the
    remedy for this install (``repair.diagnose.environment``)."""

    distribution: str | None = None
    module: str | None = None
    installed: bool | None = None
    version: str | None = None
    mixed: bool = False
    # Requirement lines that name the distribution: "requirements.txt:3 numpy==1.26.2 (not met)".
    wanted: tuple[str, ...] = ()
    declared: bool | None = None  # None: not asked (no module in the cause)
    node: str | None = None
    note: str = ""  # one or two sentences on what the install shows
    remedy: str = ""
    command: str | None = None
    rebuild_helps: RebuildHelps | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution,
            "module": self.module,
            "installed": self.installed,
            "version": self.version,
            "mixed": self.mixed,
            "wanted": list(self.wanted),
            "declared": self.declared,
            "node": self.node,
            "note": self.note,
        }


@dataclass(frozen=True)
class Cause:
    """Matches of related signatures, told as one cause. The first signature leads."""

    signatures: tuple[Signature, ...]
    matches: tuple[Match, ...]
    count: int  # matching lines, including those not kept
    names: Names = ()
    node: str | None = None
    tie: Tie | None = None
    # The remedy worded for the application (its flags, files and launchers), when it differs.
    app_remedy: str | None = None

    @property
    def lead(self) -> Signature:
        return self.signatures[0]

    @property
    def named(self) -> dict[str, str]:
        out = dict(self.names)
        if self.node:
            out.setdefault("node", self.node)
        return out

    @property
    def rebuild_helps(self) -> RebuildHelps:
        if self.tie is not None and self.tie.rebuild_helps is not None:
            return self.tie.rebuild_helps
        return min((s.rebuild_fixes for s in self.signatures), key=lambda r: r.rank)

    @property
    def restart_needed(self) -> bool:
        return any(s.restart_needed for s in self.signatures)

    @property
    def command(self) -> str | None:
        if self.tie is not None and self.tie.rebuild_helps is not None:
            return self.tie.command
        if self.rebuild_helps is RebuildHelps.NO:
            return None
        return self.lead.repair_command

    @property
    def cause(self) -> str:
        lead = self.lead
        text = fill(lead.cause, self.named) if lead.shape else lead.cause
        if self.tie is not None and self.tie.note:
            text = f"{text} {self.tie.note}"
        return text

    @property
    def remedy(self) -> str:
        if self.tie is not None and self.tie.remedy:
            return self.tie.remedy
        if self.app_remedy:
            return self.app_remedy
        lead = self.lead
        return fill(lead.remedy, self.named) if lead.shape else lead.remedy

    @property
    def first_line(self) -> int:
        return min(m.line for m in self.matches)

    @property
    def subject(self) -> str:
        """What the cause is about: the catalogue id, or the shape's key name."""
        if not self.lead.shape:
            return self.lead.id
        named = self.named
        for key in ("module", "req", "dist", "path", "node", "func"):
            if named.get(key):
                return named[key]
        return self.lead.id

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ids": [s.id for s in self.signatures],
            "family": self.lead.family,
            "lines": sorted({m.line for m in self.matches}),
            "count": self.count,
            "cause": self.cause,
            "remedy": self.remedy,
            "rebuild_helps": self.rebuild_helps.value,
            "restart_needed": self.restart_needed,
            "command": self.command,
        }
        if self.names or self.node:
            out["names"] = self.named
        if self.tie is not None:
            out["environment"] = self.tie.to_json()
        return out


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


def _catalogue_causes(
    catalogue: Catalogue, kept: dict[str, list[Match]], counts: dict[str, int]
) -> list[Cause]:
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
        node = next((m.node for m in matches if m.node), None)
        causes.append(Cause(sigs, matches, sum(counts[i] for i in members), node=node))
    return causes


def group(
    catalogue: Catalogue,
    kept: dict[str, list[Match]],
    counts: dict[str, int],
    shaped: dict[tuple[str, str], list[Match]] | None = None,
    shape_counts: dict[tuple[str, str], int] | None = None,
) -> tuple[Cause, ...]:
    """The causes of a log: catalogue entries grouped by relation, then the structural matches
    attached to them or told as causes of their own."""
    causes = _catalogue_causes(catalogue, kept, counts)
    shaped = shaped or {}
    shape_counts = shape_counts or {}
    # Non-node shapes first: a node that failed is told only when nothing else says why.
    order = sorted(
        shaped, key=lambda k: (catalogue.get(k[0]).shape == NODE, min(m.line for m in shaped[k]))
    )
    for key in order:
        matches = shaped[key]
        lines = {m.line for m in matches}
        first = matches[0]
        node = next((m.node for m in matches if m.node), None)
        at = next((i for i, c in enumerate(causes) if lines & {m.line for m in c.matches}), None)
        if at is not None:
            cause = causes[at]
            seen = {m.line for m in cause.matches}
            merged = tuple(
                sorted(
                    cause.matches + tuple(m for m in matches if m.line not in seen),
                    key=lambda m: m.line,
                )
            )
            if cause.lead.generic and first.signature.shape != NODE:
                # The entry only says that something failed to load; the shape says what.
                causes[at] = replace(
                    cause,
                    signatures=(first.signature, *cause.signatures),
                    matches=merged,
                    names=first.names,
                    node=cause.node or node,
                    count=cause.count + shape_counts.get(key, 1),
                )
            else:
                causes[at] = replace(
                    cause, names=cause.names or first.names, matches=merged, node=cause.node or node
                )
            continue
        if first.signature.shape == NODE and any(c.node == node for c in causes):
            continue
        causes.append(
            Cause(
                (first.signature,),
                tuple(matches),
                shape_counts.get(key, 1),
                names=first.names,
                node=node,
            )
        )

    def rank(c: Cause) -> tuple[int, int]:
        fam = c.lead.family
        return (FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER), c.first_line)

    return tuple(sorted(causes, key=rank))


# --- telling it --------------------------------------------------------------------------------


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?(?<!e\.g)(?<!i\.e)(?<!etc)[.!?])(?:\s|$)", text.strip())
    return m.group(1) if m else text.strip()


def _label(cause: Cause) -> str:
    lead = cause.lead
    return f"{lead.id} '{cause.subject}'" if lead.shape else lead.id


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
        head = f"{i}. {_label(cause)} (line {cause.first_line}): {_first_sentence(cause.cause)}"
        if cause.tie is not None and cause.tie.note:
            head += f" {cause.tie.note}"
        helps = cause.rebuild_helps
        remedy = _first_sentence(cause.remedy)
        if helps is RebuildHelps.YES and cause.command:
            tail = f"`repair` can fix this: run '{cause.command}'."
        elif helps is RebuildHelps.PARTLY and cause.command:
            tail = f"'{cause.command}' may fix it, but the cause can come back: {remedy}"
        else:
            tail = f"A rebuild of the environment will NOT help: {remedy}"
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
        command = cause.command or ""
        if not command:
            fix = Fix.MANUAL
        elif "--reclone" in command:
            fix = Fix.RECLONE
        elif "--clean-venv" in command:
            fix = Fix.RECREATE_VENV
        else:
            fix = Fix.REINSTALL
        first = cause.matches[0]
        details: dict[str, Any] = {}
        if cause.names or cause.node:
            details["names"] = cause.named
        if cause.tie is not None:
            details["environment"] = cause.tie.to_json()
        findings.append(
            LOG_SIGNATURE(
                cause.subject,
                f"log line {first.line}: {first.text}",
                cause.remedy,
                fix=fix,
                restart_required=cause.restart_needed,
                signatures=[s.id for s in cause.signatures],
                lines=sorted({m.line for m in cause.matches}),
                count=cause.count,
                cause=cause.cause,
                rebuild_helps=helps.value,
                command=cause.command,
                source=list(lead.source),
                **details,
            )
        )
    return findings
