"""Read a start-up or crash log and name what is wrong.

The signature catalogue (``repair/data/signatures.jsonl``) holds one known error per line: a
regular expression, verbatim example lines, the cause, the remedy, whether rebuilding the
environment fixes it (``yes``, ``partly``, ``no``), whether the application must be restarted, and
the public reports it was seen in. Structural matchers (``shapes``) recognise the general shapes of
Python failures whatever the package, and pull the names out of the line. When the install is
known, each cause is tied to it (``environment``): which distribution owns the module, at which
version, who asks for which, and the smallest remedy for that install.

- ``catalogue``: reading and validating the entries; the literals each pattern needs.
- ``prefilter``: the one alternation of short keys that finds the candidate lines.
- ``scan``: streaming a log through the prefilter and the expressions.
- ``causes``: grouping matches into causes, the verdict, the findings of ``check --log``.
- ``environment``: the tie to the install and the remedies per application.
"""

from __future__ import annotations

from repair.diagnose.catalogue import FAMILY_ORDER, Catalogue, load_catalogue, parse_catalogue
from repair.diagnose.causes import (
    LOG_SIGNATURE,
    SCHEMA,
    Cause,
    Diagnosis,
    Match,
    Tie,
    diagnosis_findings,
    verdict,
)
from repair.diagnose.prefilter import KEY_LEN, KEY_MIN, KeySet
from repair.diagnose.scan import (
    BLOCK_SIZE,
    KEEP_PER_SIGNATURE,
    LONG_LINE,
    MAX_LINE,
    MAX_TEXT,
    WINDOW,
    Matcher,
    diagnose_file,
    diagnose_lines,
    diagnose_log,
    diagnose_stream,
    match_text,
)
from repair.diagnose.signature import MIN_LITERAL, CatalogueError, RebuildHelps, Signature

__all__ = [
    "BLOCK_SIZE", "FAMILY_ORDER", "KEEP_PER_SIGNATURE", "KEY_LEN", "KEY_MIN", "LOG_SIGNATURE",
    "LONG_LINE", "MAX_LINE", "MAX_TEXT", "MIN_LITERAL", "SCHEMA", "WINDOW", "Catalogue",
    "CatalogueError", "Cause", "Diagnosis", "KeySet", "Match", "Matcher", "RebuildHelps",
    "Signature", "Tie", "diagnose_file", "diagnose_lines", "diagnose_log", "diagnose_stream",
    "diagnosis_findings", "load_catalogue", "match_text", "parse_catalogue", "verdict",
]
