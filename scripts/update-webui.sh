#!/bin/sh
# Update a web UI safely: check, update, repair - in that order, stopping at the first problem.
#
#   scripts/update-webui.sh [APP_DIR]        (default: the current folder)
#
# 1. repair check --pre-update   fetches upstream, predicts what the update changes, makes sure a
#                                snapshot exists; exit 1 when the update would break or be refused
# 2. git pull --ff-only          the update itself (never a merge)
# 3. repair --yes                repairs what the update changed (new requirements, ...)
#
# REPAIR names the tool (default: repair), e.g. REPAIR="python -m repair".
# -h, --help prints this and does nothing else.
set -u
case "${1:-}" in
    -h|--help)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    -*)
        echo "update-webui: unknown option $1 (see --help)" >&2
        exit 2 ;;
esac
dir=${1:-.}
repair=${REPAIR:-repair}

echo "==> 1/3 checking $dir before the update"
# shellcheck disable=SC2086 # REPAIR may be a command with arguments
$repair check --pre-update --dir "$dir" || {
    echo "update-webui: the pre-update check found problems; nothing was updated" >&2
    exit 1
}
echo "==> 2/3 updating"
git -C "$dir" pull --ff-only || {
    echo "update-webui: git pull failed; the check passed, so look at git's message above" >&2
    exit 2
}
echo "==> 3/3 repairing what the update changed"
# shellcheck disable=SC2086
$repair --yes --dir "$dir"
rc=$?
case $rc in
    0) echo "update-webui: done" ;;
    3) echo "update-webui: done; restart the web UI" ; rc=0 ;;
    *) echo "update-webui: the repair after the update failed (exit $rc)" >&2 ;;
esac
exit $rc
