#!/bin/bash
# kill -9 during real repairs, then check that the next run finishes and leaves a healthy venv.
#
#   benchmarks/kill_during_repair.sh APP_DIR DELAY...
#
# APP_DIR is a COPY of a real install (never the one you use): each round deletes einops's
# __init__.py (the plan reinstalls it), starts `repair --yes`, kills it with SIGKILL after DELAY
# seconds, runs `repair --yes` again and `repair check --json`. One line per round: the exit
# codes, the time of the run after the kill, its recovery line, and installers left running.
# PYTHON names the interpreter that has webui-repair installed (default: python3).
set -u
APP=$1; shift
PY=${PYTHON:-python3}
SITE=$(ls -d "$APP"/venv/lib/python3*/site-packages | head -1)
OUT=$(mktemp -d)
for delay in "$@"; do
  rm -f "$SITE/einops/__init__.py"
  "$PY" -m repair --yes --dir "$APP" > "$OUT/run.log" 2>&1 & pid=$!
  sleep "$delay"; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; killed=$?
  t0=$(date +%s.%N)
  "$PY" -m repair --yes --dir "$APP" > "$OUT/next.log" 2>&1; next=$?
  t1=$(date +%s.%N)
  "$PY" -m repair check --json --dir "$APP" > "$OUT/check.json" 2>/dev/null
  errors=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['errors'])" \
           "$OUT/check.json")
  what=$(grep -o "rolling back[^(]*\|finishing[^(]*\|ended the installer[^;]*" "$OUT/next.log" \
         | head -1)
  left=$(pgrep -f "$APP/venv/bin/python -m pip" | wc -l)
  printf "delay=%s killed=%s next=%s next_s=%.1f errors_after=%s recovery='%s' installers_left=%s\n" \
    "$delay" "$killed" "$next" "$(echo "$t1 - $t0" | bc)" "$errors" "$what" "$left"
done
rm -rf "$OUT"
