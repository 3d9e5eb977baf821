#!/bin/bash
# run-bench.sh — `make bench`: the freshly built pushgated beside its peers
# (Nchan, Node ws, Socket.IO, Pushpin, the pgceiling fan-out ceiling) in ONE
# run of ../shared/bench/compare.sh on this machine, then the idle-memory
# runs of bench/idle-sse-lp.sh, then the targets of issue 6 (targets.py).
#
# Invariants:
# - The shared bench directory is only read (it is read-only in CI): its
#   sources are copied to $PG_BUILDDIR/bench-tools and pgload and pgceiling
#   are built and run there; nothing of it is copied into the project.
# - Servers are pinned to CPU 0 and pgload to CPU 1 (compare.sh's
#   SERVER_CPU / LOAD_CPU); everything talks to 127.0.0.1 only; every run is
#   bounded by compare.sh's own timeouts.
# - pushgated runs with the settings of a real single-node deployment (see
#   PG_BENCH_ARGS below and bench/RESULTS.md), the access log off.
#
# Deliberate departure: max_connections_per_ip=0. pgload opens every
# subscriber from 127.0.0.1, which the default per-address cap (256) would
# refuse; a real deployment gets one address per browser (or sets
# trusted_proxies behind a balancer) and keeps the cap.
#
# Environment (all optional): PG_BUILDDIR, PG_SRCDIR (set by make),
# PG_BENCH_SRC (default $PG_SRCDIR/../shared/bench), OUT (result directory,
# default $PG_BUILDDIR/bench-results/<UTC time>), PEERS, SCENARIOS,
# BENCH_SETUP=0 (do not run setup.sh), BENCH_IDLE=0 (skip the idle runs),
# BENCH_COMPARE=0 (no compare.sh run), BENCH_PROFILE=1 (also run
# bench/profile.sh: callgrind and syscall counts per scenario), BENCH_WORKERS=1
# (also bench/workers-bench.sh: workers 1 against 2, server unpinned), PG_BENCH_EXTRA (more pushgated
# options), and every compare.sh knob
# (B_SUBS, C_MSGS, ...), which is passed through.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PG_SRCDIR=${PG_SRCDIR:-$(dirname "$HERE")}
PG_BUILDDIR=${PG_BUILDDIR:-$PG_SRCDIR}
PG_BENCH_SRC=${PG_BENCH_SRC:-$PG_SRCDIR/../shared/bench}
TOOLS=$PG_BUILDDIR/bench-tools
OUT=${OUT:-$PG_BUILDDIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
PUSHGATED=$PG_BUILDDIR/pushgated

die() { echo "run-bench.sh: $*" >&2; exit 2; }

[ -f "$PG_BENCH_SRC/compare.sh" ] && [ -f "$PG_BENCH_SRC/pgload.c" ] ||
    die "no load generator at $PG_BENCH_SRC (set PG_BENCH_SRC to the shared bench directory)"
[ -x "$PUSHGATED" ] || die "$PUSHGATED not built (run make first)"
PG_BENCH_SRC=$(cd "$PG_BENCH_SRC" && pwd)

# ---- out-of-tree copy of the shared bench tools (sources only) ----
sync_tools() {
    mkdir -p "$TOOLS" || die "cannot create $TOOLS"
    local e name
    for e in "$PG_BENCH_SRC"/* "$PG_BENCH_SRC"/.gitignore; do
        [ -e "$e" ] || continue
        name=$(basename "$e")
        case $name in results|run|pgload|pgceiling) continue ;; esac
        rm -rf "${TOOLS:?}/$name"
        cp -R --preserve=timestamps "$e" "$TOOLS/$name" || die "copying $e failed"
    done
    chmod -R u+w "$TOOLS"
}
sync_tools
make -s -C "$TOOLS" pgload pgceiling >&2 || die "building pgload/pgceiling in $TOOLS failed (needs libevent-dev, libssl-dev, pkg-config)"

# ---- peers' prerequisites (idempotent; only as root) ----
if [ "${BENCH_SETUP:-1}" != 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        "$TOOLS/setup.sh" >&2 || echo "run-bench.sh: setup.sh failed; compare.sh skips the peers it lacks" >&2
    else
        echo "run-bench.sh: not root, setup.sh not run; compare.sh skips peers whose prerequisites are missing" >&2
    fi
fi

# ---- pushgated: the settings of a real deployment ----
mkdir -p "$OUT" || die "cannot create $OUT"
: > "$OUT/pushgate-bench.conf"     # no installed config file is read
PG_BENCH_ARGS="--listen=127.0.0.1:9000 --publish-listen=127.0.0.1:9001 --access-log=off --log-level=warn"
PG_BENCH_ARGS="$PG_BENCH_ARGS --history-size=100 --history-ttl=10m --history-memory-max=64M"
PG_BENCH_ARGS="$PG_BENCH_ARGS --ping-interval=30s --idle-timeout=75s --sse-heartbeat=15s --longpoll-hold=25s"
PG_BENCH_ARGS="$PG_BENCH_ARGS --subscriber-buffer-max=1M --max-connections-per-ip=0 --www-root="
PG_BENCH_ARGS="$PG_BENCH_ARGS ${PG_BENCH_EXTRA:-}"
export EXT_PORT=9000
export EXT_PUB_URL='http://127.0.0.1:9001/pub/{ch}'
export EXT_LP_MODE=longpoll-id
export EXT_CMD="$PUSHGATED -c $OUT/pushgate-bench.conf $PG_BENCH_ARGS"
export PEERS=${PEERS:-"ext nchan ceiling node-ws socketio pushpin"}
export SCENARIOS=${SCENARIOS:-"A B C D-sse D-lp"}
export SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}

# machine_load WHEN: what else runs on this (shared) machine: other
# processes on the pinned CPUs make CPU time and latency noisy
machine_load() {
    echo "load $1: $(cut -d' ' -f1-3 /proc/loadavg); busiest other processes:"
    ps -eo pcpu,etime,comm --sort=-pcpu | sed -n '2,6p' | sed 's/^/  /'
}

# ---- what was measured ----
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "pushgated: $PUSHGATED ($("$PUSHGATED" --version 2>/dev/null))"
    if command -v git > /dev/null && git -C "$PG_SRCDIR" rev-parse --git-dir > /dev/null 2>&1; then
        echo "commit: $(git -C "$PG_SRCDIR" log -1 --format='%h %s' 2>/dev/null)"
        echo "uncommitted changes in src/ fallback/ (modified; untracked):"
        git -C "$PG_SRCDIR" --no-optional-locks status --short src fallback 2>/dev/null |
            awk '$1 == "??" {u = u " " $2; next} {print "  " $0} END {if (u != "") print "  untracked:" u}'
    fi
    echo "EXT_CMD: $EXT_CMD"
    echo "bench tools: $TOOLS (copied from $PG_BENCH_SRC)"
    machine_load "at the start"
} | tee "$OUT/build.txt" >&2

if [ "${BENCH_COMPARE:-1}" != 0 ]; then
    OUT=$OUT/compare "$TOOLS/compare.sh" || die "compare.sh failed"
fi
IDLE_RESULTS=""
if [ "${BENCH_IDLE:-1}" != 0 ]; then
    OUT=$OUT/idle TOOLS=$TOOLS "$HERE/idle-sse-lp.sh" || echo "run-bench.sh: idle runs failed" >&2
    IDLE_RESULTS=$OUT/idle/results.jsonl
fi

if [ "${BENCH_WORKERS:-0}" != 0 ]; then
    OUT=$OUT/workers TOOLS=$TOOLS "$HERE/workers-bench.sh" || echo "run-bench.sh: workers runs failed" >&2
fi

if [ "${BENCH_PROFILE:-0}" != 0 ]; then
    OUT=$OUT/profile TOOLS=$TOOLS PUSHGATED=$PUSHGATED PG_BENCH_ARGS=$PG_BENCH_ARGS \
        "$HERE/profile.sh" || echo "run-bench.sh: profile runs failed" >&2
fi
machine_load "at the end" | tee -a "$OUT/build.txt" >&2

if [ -s "$OUT/compare/results.jsonl" ]; then
    echo
    echo "## Summary (pushgated = ext)"
    python3 "$TOOLS/table.py" --summary "$OUT/compare/results.jsonl" | tee "$OUT/summary.md"
    echo
    python3 "$HERE/targets.py" "$OUT/compare/results.jsonl" $IDLE_RESULTS | tee "$OUT/targets.md"
fi
echo "results: $OUT" >&2
