"""The signature catalogue: entries read from ``repair/data/signatures.jsonl``, validated and
compiled (``signature``), with the structural shapes and the prefilter built once per catalogue."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from repair.diagnose.prefilter import KeySet, _key_set, _ordinary_text
from repair.diagnose.shapes import SHAPES
from repair.diagnose.signature import CatalogueError, Signature, _compile

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


@dataclass(frozen=True)
class Catalogue:
    signatures: tuple[Signature, ...]
    # The structural matchers, scanned with the entries (the same prefilter) but told apart.
    shapes: tuple[Signature, ...] = ()

    def __len__(self) -> int:
        return len(self.signatures)

    def __iter__(self) -> Iterator[Signature]:
        return iter(self.signatures)

    def get(self, id: str) -> Signature:
        for sig in self.signatures + self.shapes:
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
        every = self.signatures + self.shapes
        return (
            _key_set([s for s in every if not s.ignore_case], ordinary),
            _key_set([s for s in every if s.ignore_case], ordinary.lower()),
        )


# --- the catalogue -----------------------------------------------------------------------------


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
    return Catalogue(tuple(sigs), SHAPES)


_DEFAULT: Catalogue | None = None


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue shipped with the tool (cached), or one read from ``path``."""
    global _DEFAULT
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            return parse_catalogue(fh, str(path))
    if _DEFAULT is None:
        # lazy: importlib.resources is slow to import; only the shipped catalogue needs it
        from importlib.resources import files

        text = (files("repair") / "data" / "signatures.jsonl").read_text(encoding="utf-8")
        _DEFAULT = parse_catalogue(text.splitlines(), "signatures.jsonl")
    return _DEFAULT
