#!/bin/sh
# From a machine with only Python (and git) to a working web UI:
#   sh fresh-install.sh [--tool-source PATH] [--tool-venv DIR] APP --dir PATH [repair install options]
# Makes a private venv for webui-repair (default ~/.webui-repair/venv), installs the tool into it
# (from PyPI, or from a local checkout given with --tool-source), then runs
# `repair install` with the remaining arguments.
set -eu

TOOL_SOURCE="webui-repair"
TOOL_VENV="${WEBUI_REPAIR_HOME:-$HOME/.webui-repair}/venv"
while [ $# -gt 0 ]; do
    case "$1" in
        --tool-source) TOOL_SOURCE="$2"; shift 2 ;;
        --tool-venv) TOOL_VENV="$2"; shift 2 ;;
        *) break ;;
    esac
done

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for candidate in python3.10 python3.11 python3.12 python3.13 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "fresh-install: no Python found: install Python 3.10 or newer first" >&2
    exit 2
fi
if ! command -v git >/dev/null 2>&1; then
    echo "fresh-install: git is not installed: install git first" >&2
    exit 2
fi

if [ ! -x "$TOOL_VENV/bin/python" ]; then
    echo "==> creating the tool's own venv in $TOOL_VENV" >&2
    "$PYTHON" -m venv "$TOOL_VENV"
fi
echo "==> installing webui-repair ($TOOL_SOURCE)" >&2
"$TOOL_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$TOOL_SOURCE"
echo "==> repair install $*" >&2
exec "$TOOL_VENV/bin/python" -m repair install "$@"
