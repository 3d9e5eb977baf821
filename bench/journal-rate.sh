#!/bin/sh
# journal-rate.sh — publishes/s of the real pushgated with history_journal
# off and on (group-committed fdatasync), for a few numbers of keep-alive
# publisher connections, measured by bench/pubrate.c (closed loop: each
# connection sends its next publish as soon as its reply is read). Prints a
# table and, for the journal runs, the daemon's own fdatasync figures.
#
# Invariants: loopback only, free ports, the daemon is always stopped by
# its PID; the journal lives in JOURNAL_DIR (default: a fresh directory
# under /var/tmp, i.e. on a real disk, not tmpfs) and is removed after.
#
# Environment (all optional): PG_BUILDDIR, PG_SRCDIR, PUSHGATED, CONNS
# (default "1 8 32"), SECS per run (default 5), BODY bytes (default 200),
# CHANNELS (default 16), JOURNAL_DIR, CC.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PG_SRCDIR=${PG_SRCDIR:-$(dirname "$HERE")}
PG_BUILDDIR=${PG_BUILDDIR:-$PG_SRCDIR}
PUSHGATED=${PUSHGATED:-$PG_BUILDDIR/pushgated}
CONNS=${CONNS:-1 8 32}
SECS=${SECS:-5}
BODY=${BODY:-200}
CHANNELS=${CHANNELS:-16}
CC=${CC:-cc}

die() { echo "journal-rate.sh: $*" >&2; exit 2; }
[ -x "$PUSHGATED" ] || die "$PUSHGATED not built (run make first)"

WORK=$(mktemp -d "${JOURNAL_DIR:-/var/tmp}/pg-journal-rate.XXXXXX") || die "cannot create a work directory"
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

$CC -O2 -o "$WORK/pubrate" "$HERE/pubrate.c" || die "cannot build bench/pubrate.c"

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {   # wait_port PORT: until something accepts on it (10 s)
    i=0
    while [ $i -lt 200 ]; do
        /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# run MODE CONNS -> prints one table row
run() {
    mode=$1 conns=$2
    lp=$(free_port) pp=$(free_port)
    log=$WORK/pushgated-$mode-$conns.log
    journal=
    [ "$mode" = on ] && journal=$WORK/history.journal && rm -f "$journal"
    "$PUSHGATED" --listen=127.0.0.1:"$lp" --publish_listen=127.0.0.1:"$pp" --www_root= \
        --log_file="$log" --log_level=notice --access_log=off --spool_dir= \
        --history_journal="$journal" --max_connections_per_ip=0 2>>"$log" &
    PID=$!
    wait_port "$pp" || die "pushgated did not start (log: $(tail -3 "$log"))"
    out=$("$WORK/pubrate" "$pp" "$conns" "$SECS" "$BODY" "$CHANNELS" "jr$mode")
    kill "$PID"
    wait "$PID" 2>/dev/null
    PID=
    sync_line=$(grep -o 'commit groups, fdatasync avg [0-9]* us max [0-9]* us' "$log" | tail -1)
    groups=$(grep -o '[0-9]* records in [0-9]* commit groups' "$log" | tail -1)
    printf '%-8s %5s  %s  %s %s\n' "$mode" "$conns" "$out" "${groups:-}" "${sync_line#commit groups, }"
}

echo "pushgated publish rate, history_journal off/on ($SECS s per run, $BODY-byte bodies, $CHANNELS channels, journal in $WORK)"
printf '%-8s %5s  %s\n' journal conns result
for c in $CONNS; do
    run off "$c"
    run on "$c"
done
