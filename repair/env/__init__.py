"""The environment read from the outside: the venv's layout and interpreter, the machine's Pythons
and GPU backend, the installed distributions and their RECORDs, the torch build, and pip or uv to
install into it."""
