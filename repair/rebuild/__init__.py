"""The rebuild core: a new venv built from what the old one held (reusing its files), and a fresh
checkout of the application when the old one is damaged."""
