#!/bin/bash
# idle-sse-lp.sh — idle memory per subscriber for WebSocket, SSE and
# long-poll at 10,000 and 19,000 connections: compare.sh scenarios A
# (WebSocket), D-sse and D-lp with D_MSGS=0, i.e. pgload --mode ws / sse /
# longpoll-id with --messages 0, pushgated (ext) beside Nchan.
#
# Invariants: one process may hold at most 20,000 open files here, so the
# largest size is 19,000 (pgload needs subs + pub-conns + 64 descriptors,
# the server subs + its listeners); each (peer, scenario, size) gets a
# freshly started server, pinned as compare.sh does (server CPU 0, pgload
# CPU 1).
#
# Called by run-bench.sh, which builds the tools and exports the ext peer's
# settings: TOOLS (the built copy of the shared bench directory), EXT_CMD,
# EXT_PORT, EXT_PUB_URL, EXT_LP_MODE. Knobs: OUT (result directory),
# IDLE_SIZES (default "10000 19000"), IDLE_PEERS (default "ext nchan").
# Output: $OUT/results.jsonl (all sizes), $OUT/<size>/ (compare.sh's files).
set -u
: "${TOOLS:?run through run-bench.sh (TOOLS = built bench tools)}"
: "${EXT_CMD:?run through run-bench.sh (EXT_CMD)}" "${EXT_PORT:?}"
OUT=${OUT:?set OUT}
IDLE_SIZES=${IDLE_SIZES:-"10000 19000"}
IDLE_PEERS=${IDLE_PEERS:-"ext nchan"}

hard=$(ulimit -Hn)
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
for n in $IDLE_SIZES; do
    if [ "$hard" != unlimited ] && [ $((n + 200)) -gt "$hard" ]; then
        echo "idle-sse-lp.sh: $n subscribers need more than the open-file limit $hard; skipped" >&2
        continue
    fi
    echo "== idle subscribers: $n" >&2
    PEERS=$IDLE_PEERS SCENARIOS="A D-sse D-lp" A_SUBS=$n D_SUBS=$n D_MSGS=0 \
        OUT=$OUT/$n "$TOOLS/compare.sh" > /dev/null || echo "idle-sse-lp.sh: compare.sh failed at $n" >&2
    cat "$OUT/$n/results.jsonl" >> "$OUT/results.jsonl" 2> /dev/null
done
python3 "$TOOLS/table.py" "$OUT/results.jsonl" | tee "$OUT/table.md"
