"""Backups of an install: the venv moved aside by a rename, and a snapshot of what it held
(``store``, ``snapshot``); putting a backup's venv back (``restore``)."""
