#!/bin/bash
# deflate-bench.sh [BUILDDIR] — runs bench/deflate-bench against a fresh
# pushgated for each figure (idle memory, then fan-out; plain, then
# deflate), the daemon pinned to CPU 0 and the tool to CPU 1, access log
# off, and prints one line per run. SUBS (default 1000), MESSAGES (500) and
# PORT (18480; PORT+1 is the publish port) come from the environment.
set -eu
b=${1:-.}
daemon=$b/pushgated
tool=$b/bench/deflate-bench
subs=${SUBS:-1000}
messages=${MESSAGES:-500}
port=${PORT:-18480}
pub=$((port + 1))
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

start() {
    taskset -c 0 "$daemon" --listen=127.0.0.1:$port --publish_listen=127.0.0.1:$pub \
        --max_connections_per_ip=0 --log_level=warn --log_file="$tmp/log" --access_log=off \
        --history_size=1 --www_root= "$@" &
    pid=$!
    i=0
    until (exec 3<>/dev/tcp/127.0.0.1/$pub) 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "pushgated did not start" >&2; exit 1; }
        sleep 0.05
    done
}

stop() { kill "$pid"; wait "$pid" || true; pid=; }

ver=$("$daemon" --version 2>/dev/null | head -1 || true)
echo "# ${ver:-pushgated}: $subs subscribers, $messages messages, $(nproc) CPUs, access log off"
for mode in plain deflate; do
    start; taskset -c 1 "$tool" --idle --pid "$pid" --port $port --subs "$subs" --mode $mode; stop
done
for json in "" --json; do
    for mode in plain deflate; do
        start
        taskset -c 1 "$tool" --pid "$pid" --port $port --pub-port $pub --subs "$subs" \
            --messages "$messages" --mode $mode $json
        stop
    done
done
