#!/bin/sh
# From a machine with only Python (and git) to a working web UI.
# Usage: see usage() below, or run: sh fresh-install.sh --help
set -eu

usage() {
    cat <<'USAGE'
usage: sh fresh-install.sh [--tool-source SOURCE] [--tool-venv DIR] APP --dir PATH [repair install options]
       sh fresh-install.sh --show-python
       sh fresh-install.sh --help

Makes a private venv for webui-repair (default ~/.webui-repair/venv), installs the tool into it,
then runs `repair install APP --dir PATH ...` with the remaining arguments.

  --tool-source SOURCE  what pip installs the tool from: a checkout folder, or a git URL
                        (git+https://...). Default: the checkout this script is part of.
  --tool-venv DIR       the tool's own venv (default: $WEBUI_REPAIR_HOME/venv, else ~/.webui-repair/venv)
  --show-python         print the Python this script would use, and exit
  -h, --help            this help; nothing is installed

The Python: $PYTHON if set, else the first of python3.10, 3.11, 3.12, 3.13, python3, python (on
PATH, then in pyenv's versions folder) that really runs and is 3.10 or newer; a name that exits
with an error (a pyenv shim for a version that is not selected) is skipped.
USAGE
}

# A Python that runs and is >= 3.10; names that fail to run (broken shims) are skipped.
find_python() {
    for candidate in ${PYTHON:+"$PYTHON"} python3.10 python3.11 python3.12 python3.13 python3 python \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[0-9]*/bin/python3; do
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
            >/dev/null 2>&1; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
    esac
done

here=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd) || here=""
TOOL_SOURCE=""
if [ -n "$here" ] && [ -f "$here/setup.cfg" ] && [ -d "$here/repair" ]; then TOOL_SOURCE="$here"; fi
TOOL_VENV="${WEBUI_REPAIR_HOME:-$HOME/.webui-repair}/venv"
SHOW_PYTHON=""
while [ $# -gt 0 ]; do
    case "$1" in
        --tool-source) TOOL_SOURCE="$2"; shift 2 ;;
        --tool-venv) TOOL_VENV="$2"; shift 2 ;;
        --show-python) SHOW_PYTHON=1; shift ;;
        *) break ;;
    esac
done

if ! PYTHON_FOUND=$(find_python); then
    echo "fresh-install: no working Python 3.10 or newer found: install Python 3.10 first (or set PYTHON)" >&2
    exit 2
fi
if [ -n "$SHOW_PYTHON" ]; then
    echo "$PYTHON_FOUND ($("$PYTHON_FOUND" -c 'import platform; print(platform.python_version())'))"
    exit 0
fi
if [ $# -eq 0 ]; then
    usage >&2
    exit 2
fi
if [ -z "$TOOL_SOURCE" ]; then
    echo "fresh-install: say where to install the tool from: --tool-source CHECKOUT or --tool-source git+https://..." >&2
    exit 2
fi
if ! command -v git >/dev/null 2>&1; then
    echo "fresh-install: git is not installed: install git first" >&2
    exit 2
fi

if [ ! -x "$TOOL_VENV/bin/python" ]; then
    echo "==> creating the tool's own venv in $TOOL_VENV ($PYTHON_FOUND)" >&2
    "$PYTHON_FOUND" -m venv "$TOOL_VENV"
fi
echo "==> installing webui-repair ($TOOL_SOURCE)" >&2
"$TOOL_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$TOOL_SOURCE"
echo "==> repair install $*" >&2
exec "$TOOL_VENV/bin/python" -m repair install "$@"
