#!/usr/bin/env bash
# cold start: process start -> /api/ready 200, on a fresh empty SQLite database
BIN=${1:-./bin/prefect-server}
for i in 1 2 3 4 5; do
  home=$(mktemp -d)
  start=$(date +%s%N)
  PREFECT_HOME=$home $BIN start --port 4592 --no-services >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null http://127.0.0.1:4592/api/ready; do sleep 0.002; done
  end=$(date +%s%N)
  at_ready=$(ps -o rss= -p $pid)
  sleep 0.5 # idle: start-up has released what only it needed (platform/memtrim)
  echo "run $i: $(( (end-start)/1000000 )) ms; RSS at ready $at_ready KiB, idle $(ps -o rss= -p $pid) KiB"
  kill -TERM $pid; wait $pid; rm -rf $home
done
