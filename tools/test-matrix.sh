#!/usr/bin/env bash
# Run the end-to-end suite (test/, the official Prefect client) once per matrix cell.
#
#   tools/test-matrix.sh                      all four cells of our binary
#   tools/test-matrix.sh sqlite-memory python some cells (`python` = the reference server)
#
# Starts PostgreSQL/Redis (tools/services.sh), prepares the venv (tools/venv.sh), builds the
# binary once, then runs pytest per cell, E2E_JOBS cells at a time (default 1). Extra pytest
# options: PYTEST_ADDOPTS.
# Exits non-zero when any cell fails or runs no test.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ALL=(sqlite-memory sqlite-redis postgres-memory postgres-redis)
cells=("$@")
[[ ${#cells[@]} -gt 0 ]] || cells=("${ALL[@]}")
for cell in "${cells[@]}"; do
  case $cell in
  sqlite-memory | sqlite-redis | postgres-memory | postgres-redis | python) ;;
  *) echo "unknown cell: $cell (want: ${ALL[*]} python)" >&2 && exit 2 ;;
  esac
done

eval "$(tools/services.sh up)"
VENV=$(tools/venv.sh)
WORK=$(mktemp -d -t prefect-e2e-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [[ " ${cells[*]} " != " python " && -z ${PREFECT_SERVER_BIN:-} ]]; then
  echo "e2e: building ./cmd/prefect-server"
  if ! go build -o "$WORK/prefect-server" ./cmd/prefect-server; then
    echo "e2e: go build failed"
    echo "e2e: 0 passed, ${#cells[@]} failed"
    exit 1
  fi
  export PREFECT_SERVER_BIN=$WORK/prefect-server
fi

# counts CELL.xml -> "passed failed skipped" (errors count as failed)
junit_counts() {
  "$VENV/bin/python" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 0, 0)
    sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
get = lambda key: sum(int(s.get(key, 0)) for s in suites)
failed = get("failures") + get("errors")
print(get("tests") - failed - get("skipped"), failed, get("skipped"))
EOF
}

# one cell: pytest with its output in $WORK/<cell>.log and its exit code in $WORK/<cell>.rc
run_cell() {
  local cell=$1 rc=0
  {
    echo
    echo "==================== e2e cell: $cell ===================="
    PREFECT_SERVER_TEST_CELL=$cell timeout 1800 "$VENV/bin/pytest" test/ -p no:cacheprovider \
      --junitxml="$WORK/$cell.xml" || rc=$?
  } >"$WORK/$cell.log" 2>&1
  echo "$rc" >"$WORK/$cell.rc"
}

# E2E_JOBS cells run at once (default 1): the suite mostly waits on flows and
# polling, so two cells share 2 cores well. Each cell has its own server port,
# PREFECT_HOME, PostgreSQL database and Redis DB.
jobs=${E2E_JOBS:-1}
total_passed=0 total_failed=0 bad=0 summary=()
for ((i = 0; i < ${#cells[@]}; i += jobs)); do
  batch=("${cells[@]:i:jobs}")
  for cell in "${batch[@]}"; do run_cell "$cell" & done
  wait
  for cell in "${batch[@]}"; do
    cat "$WORK/$cell.log"
    rc=$(cat "$WORK/$cell.rc")
    read -r passed failed skipped < <(junit_counts "$WORK/$cell.xml")
    status=ok
    if [[ $rc -ne 0 || $passed -eq 0 ]]; then
      status=FAILED
      bad=1
      # a cell that broke before its tests ran (no server, no tests) still counts as a failure
      [[ $failed -gt 0 ]] || failed=1
    fi
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    summary+=("$(printf 'e2e %-16s %-6s %3d passed, %d failed, %d skipped (pytest exit %d)' \
      "$cell" "$status" "$passed" "$failed" "$skipped" "$rc")")
  done
done

echo
printf '%s\n' "${summary[@]}"
echo "e2e: $total_passed passed, $total_failed failed"
exit $bad
