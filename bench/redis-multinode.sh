#!/bin/bash
# redis-multinode.sh — the scale run of issue 7: NODES pushgated nodes on
# one Redis (store redis://) hold SUBS WebSocket subscribers between them,
# more than one process may (20,000 open files each), on this machine.
#
#  1. per-user: one ../shared/bench pgload per node holds SUBS/NODES
#     subscribers on that node, each on its own channel, and publishes to
#     them through the NEXT node's publish listener, so every message
#     crosses Redis to reach the right node; pgload counts lost, duplicated,
#     latency, and the node's RSS per idle connection.
#  2. broadcast: one bench/pgbcast collector per node holds SUBS/NODES
#     subscribers of one shared channel; BC_MSGS broadcasts are published,
#     each through another node; every collector counts what each of its
#     subscribers received (pgload counts only what it published itself).
#
# Reported (stdout, and $OUT/summary.json): subscribers held, RSS per
# connection across the nodes, per-user and broadcast deliveries/s, lost,
# duplicated, p50/p99 latency, CPU seconds of the nodes and of Redis.
#
# Invariants: loopback only; every process it starts is stopped by its PID
# (trap); every wait is bounded; not part of `make check` (minutes, 100k
# sockets). Knobs (environment): NODES (6), SUBS (100000), PU_MSGS (20000),
# PU_RATE (total msg/s, 2000), BC_MSGS (10, <= 64), BC_EVERY (s, 3),
# PG_BUILDDIR, PG_SRCDIR, PG_BENCH_SRC, OUT.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PG_SRCDIR=${PG_SRCDIR:-$(dirname "$HERE")}
PG_BUILDDIR=${PG_BUILDDIR:-$PG_SRCDIR}
PG_BENCH_SRC=${PG_BENCH_SRC:-$PG_SRCDIR/../shared/bench}
TOOLS=$PG_BUILDDIR/bench-tools
OUT=${OUT:-$PG_BUILDDIR/bench-results/redis-$(date -u +%Y%m%dT%H%M%SZ)}
NODES=${NODES:-6}
SUBS=${SUBS:-100000}
PU_MSGS=${PU_MSGS:-20000}
PU_RATE=${PU_RATE:-2000}
BC_MSGS=${BC_MSGS:-10}
BC_EVERY=${BC_EVERY:-3}
PUSHGATED=$PG_BUILDDIR/pushgated
PER=$(( (SUBS + NODES - 1) / NODES ))

die() { echo "redis-multinode.sh: $*" >&2; exit 2; }
say() { echo "# $*" >&2; }

[ -x "$PUSHGATED" ] || die "$PUSHGATED not built (run make first)"
command -v redis-server >/dev/null || die "redis-server missing (apt-get install redis-server)"
[ -f "$PG_BENCH_SRC/pgload.c" ] || die "no pgload at $PG_BENCH_SRC (set PG_BENCH_SRC)"
[ "$PER" -lt 19000 ] || die "SUBS/NODES = $PER: one node holds at most ~19,000 connections here"
mkdir -p "$OUT" "$TOOLS" || die "cannot create $OUT"

# ---- tools: pgload (from the shared bench, built out of tree) and pgbcast ----
for f in pgload.c Makefile; do cp "$PG_BENCH_SRC/$f" "$TOOLS/$f" && chmod u+w "$TOOLS/$f"; done
make -s -C "$TOOLS" pgload >&2 || die "building pgload failed (libevent-dev, libssl-dev, pkg-config)"
cc -O2 -o "$TOOLS/pgbcast" "$HERE/pgbcast.c" -levent || die "building pgbcast failed"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    local i
    for i in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sum_rss() { local t=0 p; for p in "${NODE_PIDS[@]}"; do t=$((t + $(rss_kb "$p"))); done; echo $t; }
sum_cpu() { local p; for p in "${NODE_PIDS[@]}"; do cpu_s "$p"; echo; done | awk '{t+=$1} END {printf "%.2f", t}'; }

# ---- Redis and the nodes ----
RPORT=$(free_port)
mkdir -p "$OUT/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$OUT/redis" --save '' --appendonly yes \
    --appendfsync everysec --daemonize no --logfile "$OUT/redis/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_port "$RPORT" || die "redis-server did not start"
NODE_PIDS=() SUB_PORTS=() PUB_PORTS=()
for i in $(seq 0 $((NODES - 1))); do
    sp=$(free_port); pp=$(free_port)
    "$PUSHGATED" --listen=127.0.0.1:"$sp" --publish_listen=127.0.0.1:"$pp" \
        --store=redis://127.0.0.1:"$RPORT"/0 --max_connections_per_ip=0 --history_size=10 \
        --log_level=notice --log_file="$OUT/node$i.log" --www_root= 2>>"$OUT/node$i.stderr" &
    NODE_PIDS+=($!); PIDS+=($!); SUB_PORTS+=("$sp"); PUB_PORTS+=("$pp")
done
for i in $(seq 0 $((NODES - 1))); do
    wait_port "${SUB_PORTS[$i]}" && wait_port "${PUB_PORTS[$i]}" || die "node $i did not start (see $OUT/node$i.log)"
done
sleep 1
RSS0=$(sum_rss)
say "redis on $RPORT, $NODES nodes up, $PER subscribers per node; results in $OUT"

# ---- 1. per-user: cross-node publishes to each subscriber's own channel ----
R0=$(cpu_s "$REDIS_PID"); N0=$(sum_cpu)
LPIDS=()
for i in $(seq 0 $((NODES - 1))); do
    j=$(( (i + 1) % NODES ))
    "$TOOLS/pgload" --mode ws --sub-url "ws://127.0.0.1:${SUB_PORTS[$i]}/sub/{ch}" \
        --pub-url "http://127.0.0.1:${PUB_PORTS[$j]}/pub/{ch}" --subs "$PER" --channels 0 \
        --messages $((PU_MSGS / NODES)) --rate $((PU_RATE / NODES)) --size 100 --pub-conns 2 \
        --idle-wait 5 --drain 5 --timeout 400 --server-pid "${NODE_PIDS[$i]}" --label "node$i" \
        >"$OUT/peruser.$i.json" 2>"$OUT/peruser.$i.err" &
    LPIDS+=($!); PIDS+=($!)
done
for p in "${LPIDS[@]}"; do wait "$p"; done
R1=$(cpu_s "$REDIS_PID"); N1=$(sum_cpu)
say "per-user phase done"
sleep 3

# ---- 2. broadcast: every subscriber on one channel ----
rm -f "$OUT"/bc.ready.*
CPIDS=()
for i in $(seq 0 $((NODES - 1))); do
    "$TOOLS/pgbcast" --port "${SUB_PORTS[$i]}" --path /sub/bcast --subs "$PER" --messages "$BC_MSGS" \
        --src-first $((11 + 2 * i)) --src-addrs 2 --ready-file "$OUT/bc.ready.$i" --connect-timeout 120 \
        --timeout $((180 + BC_MSGS * BC_EVERY)) --drain 10 --label "node$i" \
        >"$OUT/bcast.$i.json" 2>"$OUT/bcast.$i.err" &
    CPIDS+=($!); PIDS+=($!)
done
for _ in $(seq 1500); do
    n=$(ls "$OUT"/bc.ready.* 2>/dev/null | wc -l)
    [ "$n" -ge "$NODES" ] && break
    sleep 0.1
done
sleep 2
RSS1=$(sum_rss)
HELD=$(cat "$OUT"/bc.ready.* 2>/dev/null | awk '{t+=$1} END {print t+0}')
say "broadcast phase: $HELD subscribers connected; publishing $BC_MSGS broadcasts"
R2=$(cpu_s "$REDIS_PID"); N2=$(sum_cpu)
BC_T0=$(date +%s%N)
# one process; the timestamp is taken once connected, right before each POST
/usr/bin/python3 - "$BC_MSGS" "$BC_EVERY" "${PUB_PORTS[@]}" >"$OUT/bcast.publish" <<'EOF'
import http.client, sys, time
n, every, ports = int(sys.argv[1]), float(sys.argv[2]), [int(p) for p in sys.argv[3:]]
for k in range(n):
    c = http.client.HTTPConnection('127.0.0.1', ports[k % len(ports)], timeout=30)
    c.connect()
    c.request('POST', '/pub/bcast', body=('bc:%d:%d' % (k, time.time_ns())).encode())
    r = c.getresponse()
    print(r.status, r.read().decode().strip(), flush=True)
    c.close()
    time.sleep(every)
EOF
for p in "${CPIDS[@]}"; do wait "$p"; done
R3=$(cpu_s "$REDIS_PID"); N3=$(sum_cpu)
NODE_RSS=$(for p in "${NODE_PIDS[@]}"; do echo -n "$(rss_kb "$p") "; done)
ALIVE=0; for p in "${NODE_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && ALIVE=$((ALIVE + 1)); done

# ---- summary ----
/usr/bin/python3 - "$OUT" "$NODES" "$RSS0" "$RSS1" "$HELD" "$R0" "$R1" "$N0" "$N1" "$R2" "$R3" "$N2" "$N3" \
    "$BC_T0" "$ALIVE" "$NODE_RSS" <<'EOF'
import glob, json, sys
out, nodes = sys.argv[1], int(sys.argv[2])
rss0, rss1, held = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r0, r1, n0, n1, r2, r3, n2, n3 = map(float, sys.argv[6:14])
bc_t0, alive, node_rss = int(sys.argv[14]), int(sys.argv[15]), sys.argv[16].split()

def load(pattern):
    rows = []
    for f in sorted(glob.glob(pattern)):
        try:
            rows.append(json.loads(open(f).read().strip().splitlines()[-1]))
        except (ValueError, IndexError):
            rows.append({'error': f})
    return rows

pu, bc = load(out + '/peruser.*.json'), load(out + '/bcast.*.json')
def g(d, *path, default=None):
    for p in path:
        d = d.get(p, {}) if isinstance(d, dict) else {}
    return d if d != {} else default

pu_recv = sum(g(r, 'delivery', 'received', default=0) or 0 for r in pu)
pu_exp = sum(g(r, 'delivery', 'expected', default=0) or 0 for r in pu)
pu_lost = sum(g(r, 'delivery', 'lost', default=0) or 0 for r in pu)
pu_dup = sum(g(r, 'delivery', 'duplicated', default=0) or 0 for r in pu)
pu_rate = sum(g(r, 'delivery', 'per_s', default=0) or 0 for r in pu)
pu_p99 = max((g(r, 'latency_ms', 'p99', default=-1) or -1) for r in pu) if pu else -1
pu_conn = sum(g(r, 'connect', 'established', default=0) or 0 for r in pu)
pu_bpc = [r.get('bytes_per_idle_conn') for r in pu]
bc_recv = sum(r.get('received', 0) for r in bc)
bc_exp = sum(r.get('expected', 0) for r in bc)
bc_dup = sum(r.get('duplicated', 0) for r in bc)
bc_ooo = sum(r.get('out_of_order', 0) for r in bc)
bc_last = max((r.get('last_recv_ns', 0) for r in bc), default=0)
bc_p99 = max((g(r, 'latency_ms', 'p99', default=-1) for r in bc), default=-1)
bc_p50 = max((g(r, 'latency_ms', 'p50', default=-1) for r in bc), default=-1)
# per broadcast: every collector's receipts, from its publish to its last receipt
bursts = []
for k in range(max((r.get('messages', 0) for r in bc), default=0)):
    rows = [r['per_message'][k] for r in bc if len(r.get('per_message', [])) > k and r['per_message'][k][0]]
    if rows:
        n, pub, last = sum(x[0] for x in rows), min(x[1] for x in rows), max(x[2] for x in rows)
        bursts.append({'received': n, 'all_within_ms': round((last - pub) / 1e6, 1),
                       'deliveries_per_s': round(n / ((last - pub) / 1e9)) if last > pub else None})
rates = sorted(b['deliveries_per_s'] for b in bursts if b['deliveries_per_s'])
s = {
    'nodes': nodes, 'nodes_alive_at_end': alive,
    'subscribers_held_broadcast': held, 'subscribers_held_peruser': pu_conn,
    'rss_per_conn_bytes_all_nodes': round((rss1 - rss0) * 1024 / held) if held else None,
    'rss_per_idle_conn_bytes_by_node_pgload': pu_bpc,
    'node_rss_kb_end': [int(x) for x in node_rss],
    'peruser': {'expected': pu_exp, 'received': pu_recv, 'lost': pu_lost, 'duplicated': pu_dup,
                'deliveries_per_s': round(pu_rate), 'p99_ms_worst_node': pu_p99,
                'redis_cpu_s': round(r1 - r0, 2), 'nodes_cpu_s': round(n1 - n0, 2)},
    'broadcast': {'expected': bc_exp, 'received': bc_recv, 'lost': bc_exp - bc_recv,
                  'duplicated': bc_dup, 'out_of_order': bc_ooo,
                  'p50_ms_worst_node': bc_p50, 'p99_ms_worst_node': bc_p99,
                  'deliveries_per_s_median_burst': rates[len(rates) // 2] if rates else None,
                  'bursts': bursts,
                  'redis_cpu_s': round(r3 - r2, 2), 'nodes_cpu_s': round(n3 - n2, 2)},
}
json.dump(s, open(out + '/summary.json', 'w'), indent=1)
print(json.dumps(s, indent=1))
EOF
