"""Read a start-up or crash log and name what is wrong.

The signature catalogue (``repair/data/signatures.jsonl``) holds one known error per line: a
regular expression, verbatim example lines, the cause, the remedy, whether rebuilding the
environment fixes it (``yes``, ``partly``, ``no``), whether the application must be restarted, and
the public reports it was seen in. Structural matchers (``shapes``) recognise the general shapes of
Python failures whatever the package, and pull the names out of the line. When the install is
known, each cause is tied to it (``environment``): which distribution owns the module, at which
version, who asks for which, and the smallest remedy for that install.

- ``signature``: one entry compiled and validated; the literals its pattern needs.
- ``catalogue``: reading the entries, with the shapes and the prefilter built once.
- ``prefilter``: the one alternation of short keys that finds the candidate lines.
- ``scan``: streaming a log through the prefilter and the expressions.
- ``causes``: grouping matches into causes, the verdict, the findings of ``check --log``.
- ``environment``: the tie to the install and the remedies per application.
"""
