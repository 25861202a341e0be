#!/usr/bin/env bash
# Create or reuse the Python venv for the end-to-end tests (the official prefect 3.9.1 client,
# CLI and reference server, and pytest), pinned by test/requirements.txt. It is rebuilt only
# when that file or the Python version changes. Prints the venv path on stdout.
#
#   VENV=$(tools/venv.sh) && "$VENV/bin/pytest" test/
#
# PREFECT_SERVER_VENV overrides the location; PYTHON the interpreter (default python3.11).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REQ=$ROOT/test/requirements.txt
VENV=${PREFECT_SERVER_VENV:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/prefect-server/venv-3.9.1}

log() { echo "venv: $*" >&2; }

find_python() {
  local p
  for p in ${PYTHON:-} python3.11 python3.12 python3.13 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

PY=$(find_python) || { log "need Python >= 3.11 (set PYTHON)"; exit 1; }
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9

stamp="$(cat "$REQ") $("$PY" -c 'import sys; print(sys.version)')"
stamp=$(printf '%s' "$stamp" | sha256sum | cut -d' ' -f1)
if [[ -x $VENV/bin/prefect && -x $VENV/bin/pytest && $(cat "$VENV/.requirements.sha256" 2>/dev/null) == "$stamp" ]]; then
  echo "$VENV"
  exit 0
fi

log "creating $VENV with $PY"
if ! "$PY" -m venv --clear "$VENV" >&2; then
  # Debian's own python3 needs python3-venv for ensurepip
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    "$PY" -m venv --clear "$VENV" >&2
  else
    exit 1
  fi
fi
log "installing test/requirements.txt"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
echo "$stamp" >"$VENV/.requirements.sha256"
echo "$VENV"
