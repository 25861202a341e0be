#!/usr/bin/env bash
# PostgreSQL and Redis for the tests: installed when missing, run on loopback on
# project-specific ports, with throwaway data under $PREFECT_SERVICES_DIR.
#
#   tools/services.sh up             start what is not running; print export lines
#   tools/services.sh down           stop both
#   tools/services.sh createdb NAME  (re)create an empty database; print its URL
#   tools/services.sh status         exit 0 when both answer
#
# `eval "$(tools/services.sh up)"` sets PREFECT_TEST_POSTGRES_URL and PREFECT_TEST_REDIS_URL.
# Progress goes to stderr; only export lines and URLs go to stdout.
set -euo pipefail

DIR=${PREFECT_SERVICES_DIR:-/tmp/prefect-server-services}
PG_PORT=${PREFECT_SERVICES_PG_PORT:-55432}
REDIS_PORT=${PREFECT_SERVICES_REDIS_PORT:-56379}
PG_DB=prefect_test # the database PREFECT_TEST_POSTGRES_URL points at
PGDATA=$DIR/pg
PG_SOCK=$DIR/pg-sock
PG_LOG=$DIR/postgres.log
REDIS_PID=$DIR/redis.pid

log() { echo "services: $*" >&2; }

apt_install() {
  if [[ $EUID -ne 0 ]]; then
    log "missing $*; install it (apt-get install $*) or run as root"
    exit 1
  fi
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z ${_APT_UPDATED:-} ]]; then
    apt-get update -qq >&2
    _APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_bin() { # newest installed PostgreSQL's bin directory
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  [[ -n $d && -x $d/initdb ]] && echo "$d"
}

ensure_installed() {
  if [[ -z $(pg_bin) ]]; then apt_install postgresql; fi
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  PGBIN=$(pg_bin)
}

# Run a PostgreSQL binary as the postgres OS user when we are root (postgres refuses root).
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_ready() { "$PGBIN/pg_isready" -q -U postgres -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

redis_cmd() ( # send one inline command over /dev/tcp; print the first reply line
  exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || exit 1
  printf '%s\r\n' "$*" >&3
  reply=""
  IFS= read -r -t 3 reply <&3 || true
  printf '%s\n' "${reply%$'\r'}"
)

redis_ready() { [[ $(redis_cmd PING 2>/dev/null) == "+PONG" ]]; }

# postmaster.pid left by a killed server: remove it unless its pid is a live postgres.
clear_stale_pg_pid() {
  local pidfile=$PGDATA/postmaster.pid pid
  [[ -f $pidfile ]] || return 0
  pid=$(head -n1 "$pidfile")
  # a live postmaster runs with the data directory as its working directory
  if [[ -n $pid && $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(realpath "$PGDATA")" ]]; then
    return 0
  fi
  log "removing stale $pidfile (pid $pid)"
  rm -f "$pidfile" "$PG_SOCK/.s.PGSQL.$PG_PORT" "$PG_SOCK/.s.PGSQL.$PG_PORT.lock"
}

pg_up() {
  if pg_ready; then return 0; fi
  mkdir -p "$DIR" "$PG_SOCK"
  local want have=""
  want=$("$PGBIN/pg_ctl" --version | sed -E 's/.* ([0-9]+).*/\1/')
  [[ -f $PGDATA/PG_VERSION ]] && have=$(cat "$PGDATA/PG_VERSION")
  if [[ $have != "$want" ]]; then
    log "initdb $PGDATA (PostgreSQL $want)"
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    [[ $EUID -eq 0 ]] && chown postgres: "$PGDATA"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<EOF
# tools/services.sh: loopback only, speed over durability
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  [[ $EUID -eq 0 ]] && chown postgres: "$PG_SOCK" && touch "$PG_LOG" && chown postgres: "$PG_LOG"
  clear_stale_pg_pid
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 start >/dev/null 9>&-; then
    tail -n 30 "$PG_LOG" >&2
    exit 1
  fi
  pg_ready
}

psql_admin() {
  PGOPTIONS="-c client_min_messages=warning" \
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

redis_up() {
  if redis_ready; then return 0; fi
  mkdir -p "$DIR/redis"
  rm -f "$REDIS_PID" # redis-server overwrites it, but a stale one confuses `down`
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_PID" --logfile "$DIR/redis.log" --dir "$DIR/redis" \
    --databases 64 >&2 9>&-
  local i
  for i in $(seq 50); do
    redis_ready && return 0
    sleep 0.1
  done
  log "Redis did not answer on port $REDIS_PORT"
  tail -n 30 "$DIR/redis.log" >&2
  exit 1
}

print_env() {
  echo "export PREFECT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable"
  echo "export PREFECT_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

with_lock() { # serialise concurrent callers
  mkdir -p "$DIR"
  chmod 755 "$DIR" # the postgres user must reach its data directory
  exec 9>"$DIR/lock"
  flock 9
}

cmd=${1:-}
case $cmd in
up)
  ensure_installed
  with_lock
  pg_up
  if [[ -z $(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
    psql_admin -c "CREATE DATABASE $PG_DB"
  fi
  redis_up
  print_env
  ;;
down)
  PGBIN=$(pg_bin || true)
  with_lock
  if [[ -n $PGBIN && -f $PGDATA/postmaster.pid ]]; then
    clear_stale_pg_pid
    [[ -f $PGDATA/postmaster.pid ]] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  if redis_ready; then redis_cmd SHUTDOWN NOSAVE >/dev/null || true; fi
  rm -f "$REDIS_PID"
  log "stopped"
  ;;
createdb)
  name=${2:?usage: services.sh createdb NAME}
  [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || { log "bad database name: $name"; exit 2; }
  PGBIN=$(pg_bin) || { log "PostgreSQL is not installed; run: tools/services.sh up"; exit 1; }
  pg_ready || { log "PostgreSQL is not running; run: tools/services.sh up"; exit 1; }
  psql_admin -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
  echo "postgres://postgres@127.0.0.1:$PG_PORT/$name?sslmode=disable"
  ;;
status)
  rc=0
  PGBIN=$(pg_bin || true)
  if [[ -n $PGBIN ]] && pg_ready; then
    echo "postgres: up (127.0.0.1:$PG_PORT, data $PGDATA)"
  else
    echo "postgres: down"
    rc=1
  fi
  if redis_ready; then echo "redis: up (127.0.0.1:$REDIS_PORT)"; else
    echo "redis: down"
    rc=1
  fi
  exit $rc
  ;;
*)
  echo "usage: $0 up|down|createdb NAME|status" >&2
  exit 2
  ;;
esac
