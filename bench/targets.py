#!/usr/bin/env python3
"""targets.py — the performance targets of issue 6, checked against the
figures of one compare.sh run (pushgated is the peer "ext").

usage: targets.py COMPARE_RESULTS.jsonl [IDLE_RESULTS.jsonl]

Prints one markdown table: target, pushgated's figure, the reference it is
compared with (from the same run), and met / not met. A target whose
figures are missing (peer skipped or failed) is "n/a". Invariant: every
figure comes from the files given, never from a constant baseline; the
only constants are the ratios of the targets themselves.
"""
import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                if "tool" in r:
                    rows.append(r)
    return rows


def pick(rows, peer, scen, subs=None):
    for r in rows:
        if r.get("peer") == peer and r.get("scenario") == scen and \
                (subs is None or r.get("subs") == subs):
            return r
    return None


def get(r, *path):
    for p in path:
        if r is None:
            return None
        r = r.get(p)
    if isinstance(r, (int, float)) and r < 0:
        return None
    return r


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 1:
        return "{:.3f}{}".format(v, unit)
    if isinstance(v, float) and abs(v) < 100:
        return "{:.1f}{}".format(v, unit)
    return "{:,.0f}{}".format(v, unit)


class Table:
    def __init__(self):
        self.lines = ["| target | pushgated | reference (same run) | verdict |",
                      "|---|---|---|---|"]
        self.met = self.unmet = self.na = 0

    def add(self, name, got, ref_text, ok, unit=""):
        if ok is None:
            verdict = "n/a"
            self.na += 1
        elif ok:
            verdict = "met"
            self.met += 1
        else:
            verdict = "**not met**"
            self.unmet += 1
        self.lines.append("| {} | {} | {} | {} |".format(name, fmt(got, unit), ref_text, verdict))


def cmp(got, ref, factor, le):
    """got <= factor*ref (le) or got >= factor*ref; None when unknown."""
    if got is None or ref is None:
        return None
    return got <= factor * ref if le else got >= factor * ref


def scen_a(t, rows, idle):
    for subs, src in ((10000, rows), (19000, idle)):
        r = pick(src, "ext", "A", subs)
        got = get(r, "bytes_per_idle_conn")
        ok = None if got is None or get(r, "connect", "failed") else got <= 2000
        ref = get(pick(src, "nchan", "A", subs), "bytes_per_idle_conn")
        t.add("A: bytes per idle WebSocket subscriber, {:,}".format(subs), got,
              "≤ 2,000 (Nchan {})".format(fmt(ref)), ok, " B")


def scen_b(t, rows):
    ext, nchan, ceil = (pick(rows, p, "B") for p in ("ext", "nchan", "ceiling"))
    d = [get(x, "delivery", "per_s") for x in (ext, nchan, ceil)]
    t.add("B: deliveries/s ≥ Nchan", d[0], "Nchan {}".format(fmt(d[1])), cmp(d[0], d[1], 1.0, False))
    t.add("B: deliveries/s ≥ 0.9× ceiling", d[0], "0.9 × {} = {}".format(
        fmt(d[2]), fmt(d[2] and 0.9 * d[2])), cmp(d[0], d[2], 0.9, False))
    u = [get(x, "server_cpu_us_per_delivery") for x in (ext, nchan, ceil)]
    t.add("B: server CPU per delivery ≤ Nchan", u[0], "Nchan {} µs".format(fmt(u[1])),
          cmp(u[0], u[1], 1.0, True), " µs")
    t.add("B: server CPU per delivery ≤ 1.1× ceiling", u[0], "1.1 × {} = {} µs".format(
        fmt(u[2]), fmt(u[2] and 1.1 * u[2])), cmp(u[0], u[2], 1.1, True), " µs")
    lost = get(ext, "delivery", "lost")
    t.add("B: nothing lost", lost, "0", None if lost is None else lost == 0)


def scen_c(t, rows):
    ext, nchan, ceil = (pick(rows, p, "C") for p in ("ext", "nchan", "ceiling"))
    a = [get(x, "publish", "acked_per_s") for x in (ext, nchan, ceil)]
    t.add("C: publishes/s ≥ 1.3× Nchan", a[0], "1.3 × {} = {}".format(
        fmt(a[1]), fmt(a[1] and 1.3 * a[1])), cmp(a[0], a[1], 1.3, False))
    t.add("C: publishes/s ≥ 0.8× ceiling", a[0], "0.8 × {} = {}".format(
        fmt(a[2]), fmt(a[2] and 0.8 * a[2])), cmp(a[0], a[2], 0.8, False))
    p = [get(x, "latency_ms", "p99") for x in (ext, nchan)]
    t.add("C: p99 publish-to-delivery ≤ Nchan", p[0], "Nchan {} ms".format(fmt(p[1])),
          cmp(p[0], p[1], 1.0, True), " ms")
    u = [get(x, "server_cpu_us_per_delivery") for x in (ext, nchan)]
    t.add("C: server CPU per publish+delivery ≤ 0.8× Nchan", u[0], "0.8 × {} = {} µs".format(
        fmt(u[1]), fmt(u[1] and 0.8 * u[1])), cmp(u[0], u[1], 0.8, True), " µs")
    lost = get(ext, "delivery", "lost")
    t.add("C: nothing lost", lost, "0", None if lost is None else lost == 0)


def scen_d(t, rows, idle):
    for scen, what in (("D-sse", "SSE"), ("D-lp", "long-poll")):
        ext, nchan = pick(rows, "ext", scen), pick(rows, "nchan", scen)
        lost = get(ext, "delivery", "lost")
        ok = None if lost is None else lost == 0 and get(ext, "delivery", "received") > 0
        t.add("D: {} nothing lost".format(what), lost, "0 of {}".format(
            fmt(get(ext, "delivery", "expected"))), ok)
        u = [get(x, "server_cpu_us_per_delivery") for x in (ext, nchan)]
        t.add("D: {} server CPU per delivery ≤ Nchan".format(what), u[0],
              "Nchan {} µs".format(fmt(u[1])), cmp(u[0], u[1], 1.0, True), " µs")
        for subs in (10000, 19000):
            r = pick(idle, "ext", scen, subs)
            got = get(r, "bytes_per_idle_conn")
            ok = None if got is None or get(r, "connect", "failed") else got <= 2000
            ref = get(pick(idle, "nchan", scen, subs), "bytes_per_idle_conn")
            t.add("D: bytes per idle {} subscriber, {:,}".format(what, subs), got,
                  "≤ 2,000 (Nchan {})".format(fmt(ref)), ok, " B")


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    rows = load(argv[1])
    idle = load(argv[2]) if len(argv) > 2 else []
    t = Table()
    scen_a(t, rows, idle)
    scen_b(t, rows)
    scen_c(t, rows)
    scen_d(t, rows, idle)
    print("## Targets of issue 6 (pushgated = ext, same run)\n")
    print("\n".join(t.lines))
    print("\n{} met, {} not met, {} n/a".format(t.met, t.unmet, t.na))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
