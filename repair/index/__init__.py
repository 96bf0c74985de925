"""The package index as pip would see it: the user's pip configuration (``config``), a client of
the simple repository API with a conditional-request cache (``client``), the tags a target
interpreter installs (``tags``), pip's choice among a project's files (``candidates``), and the
preflight that asks the index whether a rebuild can finish (``preflight``).

Nothing heavy is imported here: ``requests`` is imported only when an index is asked.
"""
