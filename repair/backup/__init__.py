"""Backups of an install: the venv moved aside by a rename, and a snapshot of what it held."""
