#!/bin/sh
# run-fuzzer.sh NAME.fuzz — runs the libFuzzer target NAME for a short,
# reproducible budget (fixed -seed; PG_FUZZ_SECONDS, default 20) over a
# scratch copy of its seed corpus, and prints TAP. A crash's reproducer is
# copied into tests/fuzz/crashes/ of the build tree and its path printed,
# to be added to the corpus (where make check replays it).
set -u
name=$(basename "$1" .fuzz)
bin=./tests/fuzz/fuzz_$name
secs=${PG_FUZZ_SECONDS:-20}
corpus=$PG_SRCDIR/tests/fuzz/corpus/$name
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" tests/fuzz/crashes
cp "$corpus"/* "$work/corpus/" 2>/dev/null
if [ ! -x "$bin" ]; then
    echo "not ok 1 - fuzz $name: $bin was not built (configure CC=clang --enable-fuzzers)"
    echo "1..1"
    exit 1
fi
"$bin" -seed=1 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=tests/fuzz/crashes/"$name"- "$work/corpus" >"$work/log" 2>&1
rc=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
[ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$work/log" | tail -1 | tr -d '#')
if [ "$rc" -eq 0 ]; then
    echo "ok 1 - fuzz $name: ${execs:-?} executions in ${secs}s, no crash"
else
    echo "not ok 1 - fuzz $name: exit $rc"
    tail -n 30 "$work/log" | sed 's/^/# /'
fi
echo "1..1"
[ "$rc" -eq 0 ]
