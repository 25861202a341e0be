#!/usr/bin/env bash
# Build considerations for each SQLite driver: binary size (vs. bun without a
# driver), cross-compilation with CGO_ENABLED=0, and (with COLD=1) a cold build
# time in an empty GOCACHE. Run from this directory: ./build.sh
set -u
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
size() { stat -c %s "$1" | awk '{printf "%.1f", $1/1048576}'; }

echo "## binary size (MiB), linux/amd64, default flags / -ldflags='-s -w'"
for d in baseline modernc mattn ncruces; do
	go build -o "$out/$d" "./cmd/$d" && go build -ldflags='-s -w' -o "$out/$d-s" "./cmd/$d" &&
		echo "$d: $(size "$out/$d") / $(size "$out/$d-s")"
done

echo "## cross-compilation with CGO_ENABLED=0 (build ok?)"
for d in modernc mattn ncruces; do
	line="$d:"
	for t in linux/arm64 darwin/arm64 windows/amd64 freebsd/amd64 linux/riscv64; do
		if CGO_ENABLED=0 GOOS=${t%/*} GOARCH=${t#*/} go build -o /dev/null "./cmd/$d" 2>/dev/null; then
			line="$line $t=ok"
		else
			line="$line $t=FAIL"
		fi
	done
	echo "$line"
done

echo "## running a CGO_ENABLED=0 linux/amd64 build"
for d in modernc mattn ncruces; do
	CGO_ENABLED=0 go build -o "$out/$d-nocgo" "./cmd/$d" && echo "$d: $("$out/$d-nocgo" 2>&1 | head -1)"
done

if [ "${COLD:-0}" = 1 ]; then
	echo "## cold build time (empty GOCACHE, modules already downloaded)"
	for d in baseline modernc mattn ncruces; do
		c=$(mktemp -d)
		s=$(date +%s)
		GOCACHE=$c go build -o /dev/null "./cmd/$d"
		echo "$d: $(($(date +%s) - s))s"
		rm -rf "$c"
	done
fi
