"""The check's caches: ``store`` (one JSON file per venv and kind of data, every entry stamped by
the ``stat`` of what it was computed from), ``site`` (parsed metadata folders, the interpreter
probe and the findings of the file checks of one venv), ``verdict`` (the launch guard's answer).

Nothing here is imported by the package itself: the guard's fast path loads only ``store`` and
``verdict``.
"""
