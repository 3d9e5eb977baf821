#!/bin/bash
# profile.sh — where pushgated's time goes, per scenario: user-space
# instructions per delivery (valgrind --tool=callgrind, counted from just
# before the first publish to the load generator's report, so connecting
# and the final teardown are left out) and system calls per delivery (perf
# stat on the syscall tracepoints, at full speed, over the publish phase).
# Instruction counts are stable on a noisy shared machine where CPU time
# is not; the kernel's share (TCP, wake-ups) is only in the syscall counts
# and in the CPU figures of run-bench.sh.
#
# Scenarios (sizes chosen so callgrind finishes in about a minute each):
#   B   broadcast, 10,000 WebSocket subscribers, 20 messages at 2/s
#   C   per-user, 2,000 WebSocket subscribers, 10,000 closed-loop publishes
#   S   SSE broadcast, 2,000 subscribers, 60 messages at 5/s
#   L   long-poll (longpoll-id) broadcast, 2,000 subscribers, 60 messages at 5/s
# The syscall runs use compare.sh's sizes (B 10,000 x 200 @ 20/s, C 10,000
# subscribers / 20,000 publishes, S and L 2,000 x 60 @ 20/s).
#
# Called by run-bench.sh (BENCH_PROFILE=1, or `make bench-profile`), which
# exports PUSHGATED, PG_BENCH_ARGS (the deployment settings) and TOOLS
# (built pgload). Knobs: OUT, PROFILE_SCENARIOS (default "B C S L").
# Invariants: servers pinned to CPU 0, pgload to CPU 1, loopback only, every
# run bounded (pgload --timeout, bounded waits); only the PIDs started here
# are stopped.
set -u
: "${PUSHGATED:?run through run-bench.sh}" "${TOOLS:?run through run-bench.sh}"
: "${PG_BENCH_ARGS:?run through run-bench.sh}"
OUT=${OUT:?set OUT}
PGLOAD=$TOOLS/pgload
SUB=127.0.0.1:9000
PUB='http://127.0.0.1:9001/pub/{ch}'
mkdir -p "$OUT"
command -v valgrind > /dev/null || echo "profile.sh: valgrind missing (apt-get install valgrind): no instruction counts" >&2
HAVE_PERF=0
if command -v perf > /dev/null && perf stat -e raw_syscalls:sys_enter true > /dev/null 2>&1; then
    HAVE_PERF=1
else
    echo "profile.sh: perf with syscall tracepoints unavailable: no syscall counts" >&2
fi

# scen_args SCEN MODE: sets URL, ARGS, N (subscribers) for the callgrind
# (MODE=cg) or the full-speed (MODE=full) run
scen_args() {
    local ws="ws://$SUB/sub/{ch}" http="http://$SUB/sub/{ch}"
    case $1:$2 in
    B:cg)   N=10000; URL=$ws;   ARGS="--mode ws --channels 1 --messages 20 --rate 2" ;;
    B:full) N=10000; URL=$ws;   ARGS="--mode ws --channels 1 --messages 200 --rate 20" ;;
    C:cg)   N=2000;  URL=$ws;   ARGS="--mode ws --channels 0 --messages 10000 --rate 0 --pub-conns 8" ;;
    C:full) N=10000; URL=$ws;   ARGS="--mode ws --channels 0 --messages 20000 --rate 0 --pub-conns 8" ;;
    S:cg)   N=2000;  URL=$http; ARGS="--mode sse --channels 1 --messages 60 --rate 5" ;;
    S:full) N=2000;  URL=$http; ARGS="--mode sse --channels 1 --messages 60 --rate 20" ;;
    L:cg)   N=2000;  URL=$http; ARGS="--mode longpoll-id --channels 1 --messages 60 --rate 5" ;;
    L:full) N=2000;  URL=$http; ARGS="--mode longpoll-id --channels 1 --messages 60 --rate 20" ;;
    *) return 1 ;;
    esac
}

wait_port() { # PORT SECONDS
    for _ in $(seq $(($2 * 10))); do
        (exec 3<> /dev/tcp/127.0.0.1/"$1") 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wait_subs N SECONDS: until N connections are established on the subscribe port
wait_subs() {
    local n=0
    for _ in $(seq $(($2 * 5))); do
        n=$(ss -Htn state established "( sport = :9000 )" | wc -l)
        [ "$n" -ge "$1" ] && return 0
        sleep 0.2
    done
    echo "profile.sh: only $n of $1 subscribers connected" >&2
    return 1
}

stop() { # PID
    kill "$1" 2> /dev/null
    for _ in $(seq 50); do [ -d /proc/"$1" ] || return 0; sleep 0.1; done
    kill -KILL "$1" 2> /dev/null
}

# callgrind SCEN: instructions from just before the first publish to the report
callgrind() {
    local sc=$1 vp lp
    scen_args "$sc" cg || return
    rm -f "$OUT/$sc.callgrind"*
    # shellcheck disable=SC2086
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$OUT/$sc.callgrind" \
        "$PUSHGATED" -c /dev/null $PG_BENCH_ARGS > "$OUT/$sc.valgrind.log" 2>&1 &
    vp=$!
    wait_port 9001 60 || { echo "profile.sh: pushgated under valgrind did not start" >&2; stop $vp; return; }
    # pgload waits 20 s once all are connected; zero the counters 2 s before
    # it publishes, dump them when its report line appears (before it closes)
    # shellcheck disable=SC2086
    taskset -c 1 "$PGLOAD" $ARGS --sub-url "$URL" --pub-url "$PUB" --subs "$N" --idle-wait 20 \
        --conn-inflight 64 --connect-timeout 120 --drain 5 --timeout 600 --server-pid $vp \
        2> "$OUT/$sc.pgload.err" |
        { read -r line; callgrind_control -d $vp > /dev/null; echo "$line"; } > "$OUT/$sc.cg.json" &
    lp=$!
    wait_subs "$N" 120 && sleep 18 && callgrind_control -z $vp > /dev/null
    wait $lp
    sleep 1
    stop $vp
    wait $vp 2> /dev/null
}

# syscalls SCEN: perf stat over the publish phase at full speed
syscalls() {
    local sc=$1 sp lp pp
    scen_args "$sc" full || return
    # shellcheck disable=SC2086
    taskset -c 0 "$PUSHGATED" -c /dev/null $PG_BENCH_ARGS > "$OUT/$sc.server.log" 2>&1 &
    sp=$!
    wait_port 9001 15 || { stop $sp; return; }
    sleep 1
    # shellcheck disable=SC2086
    taskset -c 1 "$PGLOAD" $ARGS --sub-url "$URL" --pub-url "$PUB" --subs "$N" --idle-wait 4 \
        --conn-inflight 32 --timeout 120 --server-pid $sp > "$OUT/$sc.full.json" 2> "$OUT/$sc.full.err" &
    lp=$!
    wait_subs "$N" 60 && sleep 3
    perf stat -x, -o "$OUT/$sc.syscalls.csv" -p $sp -e task-clock,raw_syscalls:sys_enter,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_close,syscalls:sys_enter_accept4 &
    pp=$!
    wait $lp
    kill -INT $pp 2> /dev/null
    wait $pp 2> /dev/null
    stop $sp
    wait $sp 2> /dev/null
}

for sc in ${PROFILE_SCENARIOS:-B C S L}; do
    echo "== profile $sc" >&2
    command -v valgrind > /dev/null && callgrind "$sc"
    [ "$HAVE_PERF" = 1 ] && syscalls "$sc"
done

python3 - "$OUT" ${PROFILE_SCENARIOS:-B C S L} << 'EOF' | tee "$OUT/profile.md"
import glob, json, os, re, subprocess, sys
out, scens = sys.argv[1], sys.argv[2:]
NAMES = {"B": "B broadcast (ws)", "C": "C per-user (ws)", "S": "D-sse", "L": "D-lp (longpoll-id)"}
TEARDOWN = ("conn_free", "pg_conn_tick_all")   # left out of the per-delivery figure


def annotate(path):
    return subprocess.run(["callgrind_annotate", "--inclusive=yes", "--auto=no", "--tree=caller",
                           "--threshold=100", path], capture_output=True, text=True).stdout


def parse(text):
    """function -> (calls, inclusive Ir)"""
    funcs, callers = {}, []
    for line in text.splitlines():
        if " < " in line:
            callers.append(line)
            continue
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*\s+(\S+)", line)
        if m:
            name = m.group(2).split(":")[-1]
            calls = 0
            for c in callers:
                k = re.search(r"\(([\d,]+)x\)", c)
                calls += int(k.group(1).replace(",", "")) if k else 0
            funcs.setdefault(name, (calls, int(m.group(1).replace(",", ""))))
        callers = []
    return funcs


def load(path):
    try:
        with open(path) as f:
            return json.loads(f.readline())
    except (OSError, ValueError):
        return None


print("## Profile (pushgated, callgrind + perf syscall counts)\n")
print("| scenario | deliveries (cg run) | user instr / delivery | of which tick | syscalls / delivery | writev / delivery | read / delivery | epoll_wait / delivery | srv µs / delivery (full run) |")
print("|---|---|---|---|---|---|---|---|---|")
tops = []
for sc in scens:
    cg = sorted(glob.glob(os.path.join(out, sc + ".callgrind.*")))
    rep = load(os.path.join(out, sc + ".cg.json"))
    row = [NAMES.get(sc, sc), "-", "-", "-", "-", "-", "-", "-", "-"]
    if cg and rep:
        text = annotate(cg[-1])
        m = re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", text)
        total = int(m.group(1).replace(",", "")) if m else 0
        funcs = parse(text)
        d = rep["delivery"]["received"] or 1
        tick = funcs.get("pg_conn_tick_all", (0, 0))[1]
        rest = total - sum(funcs.get(t, (0, 0))[1] for t in TEARDOWN)
        row[1:4] = ["{:,}".format(d), "{:,.0f}".format(rest / d), "{:,.0f}".format(tick / d)]
        top = sorted(((ir, n, c) for n, (c, ir) in funcs.items()
                      if not n.startswith(("0x", "(below", "main", "event_base", "__libc_start"))),
                     reverse=True)[:25]
        tops.append((sc, total, d, top))
    full = load(os.path.join(out, sc + ".full.json"))
    csv = os.path.join(out, sc + ".syscalls.csv")
    if full and os.path.exists(csv):
        d = full["delivery"]["received"] or 1
        cnt = {}
        for line in open(csv):
            p = line.strip().split(",")
            if len(p) > 2 and p[0].replace(".", "").isdigit():
                cnt[p[2].split(":")[-1]] = float(p[0])
        row[4] = "{:.2f}".format(cnt.get("sys_enter", 0) / d)
        row[5] = "{:.2f}".format(cnt.get("sys_enter_writev", 0) / d + cnt.get("sys_enter_write", 0) / d)
        row[6] = "{:.2f}".format(cnt.get("sys_enter_read", 0) / d)
        row[7] = "{:.3f}".format(cnt.get("sys_enter_epoll_wait", 0) / d)
        row[8] = "{:.2f}".format(full.get("server_cpu_us_per_delivery", -1))
    print("| " + " | ".join(row) + " |")
print("\n(user instr / delivery leaves out conn_free and the 1 s tick, shown apart; "
      "syscalls are counted from the publish phase to the end, so a short run includes "
      "part of the subscribers' teardown)")
for sc, total, d, top in tops:
    print("\n### {}: top functions, inclusive instructions per delivery\n".format(NAMES.get(sc, sc)))
    print("| function | calls | Ir / delivery | % |")
    print("|---|---|---|---|")
    for ir, n, c in top:
        print("| {} | {:,} | {:,.0f} | {:.1f} |".format(n, c, ir / d, 100.0 * ir / total if total else 0))
EOF
