"""Every text renderer, for people: each takes a result (an object or a dict) and returns a str;
the command line echoes it. JSON is each result's ``to_json``.

``report`` the check report and the shared helpers (fold, wrap, paint, terminal_width);
``check`` what ``repair check`` adds (``--pre-update``, ``--before-install``); ``docs`` the
finding docs and ``--list``; ``plan`` the repair's plan, steps and result, and the reclone;
``install``; ``manifests``; ``backup``; ``guard``; ``schedule``; ``diagnose`` a crash log's
diagnosis; ``support`` the support report as Markdown.
"""
