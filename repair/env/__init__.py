"""The environment read from the outside: the venv's layout and interpreter, the machine's Pythons
and GPU backend, the installed distributions, their RECORDs and which files each owns, the torch
build, and pip or uv to install into it (and the one change made in place: relinking a venv to a
moved Python)."""
