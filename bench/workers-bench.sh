#!/bin/bash
# workers-bench.sh — `workers 1` against `workers 2` with the server
# unpinned (both CPUs), pgload pinned to CPU 1: compare.sh scenarios B
# (broadcast) and C (per-user channels), the ext peer only, one freshly
# started pushgated per (workers, scenario). A note, not a target: pgload
# needs a core of its own, so on a 2-core machine the second worker
# competes with the load generator.
#
# Called by run-bench.sh (BENCH_WORKERS=1, or `make bench-workers`), which
# builds the tools and exports TOOLS and EXT_CMD. Knobs: OUT, WORKERS_LIST
# (default "1 2"), WORKERS_SCENARIOS (default "B C"), compare.sh's sizes.
# Output: $OUT/w<N>/ (compare.sh's files), $OUT/results.jsonl, $OUT/table.md.
set -u
: "${TOOLS:?run through run-bench.sh (TOOLS = built bench tools)}"
: "${EXT_CMD:?run through run-bench.sh (EXT_CMD)}"
OUT=${OUT:?set OUT}
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
base_cmd=$EXT_CMD
for w in ${WORKERS_LIST:-1 2}; do
    echo "== workers $w (server on CPUs 0,1; pgload on CPU 1)" >&2
    EXT_CMD="$base_cmd --workers=$w" PEERS=ext SCENARIOS=${WORKERS_SCENARIOS:-"B C"} \
        SERVER_CPU=0,1 LOAD_CPU=1 OUT=$OUT/w$w "$TOOLS/compare.sh" > /dev/null ||
        echo "workers-bench.sh: compare.sh failed with workers $w" >&2
    # label each line with its worker count, so the table tells them apart
    jq -c --arg w "$w" '.peer = "pushgated-w" + $w' "$OUT/w$w/results.jsonl" >> "$OUT/results.jsonl" 2> /dev/null
done
python3 "$TOOLS/table.py" "$OUT/results.jsonl" | tee "$OUT/table.md"
