#!/usr/bin/env python3
"""Side-by-side medians from a side-by-side.sh folder (recall-N.jsonl, proto-N.jsonl, akka-N.jsonl) or a
side-by-side-remote.sh folder (recall-N.jsonl, anchors-N.jsonl, whose lines carry "impl"): the remote-* rows join
on workload + extra.pairs."""
import glob
import json
import os
import re
import sys

NAMES = {"tell-throughput:ping-pong": "tell-pingpong", "tell-throughput:one-way": "tell-oneway",
         "idle-memory": "idle-memory", "idle-memory-plain": "idle-memory"}
rows = {}
remote = {}  # (workload, pairs) -> round -> impl -> line


def remote_line(impl, rnd, o):
    w = o["workload"]
    pairs = (o.get("extra") or {}).get("pairs")
    # an error line has no extra: Recall's says "key" (remote-pingpong:p16), an anchor's may say it in "workload"
    m = re.match(r"(remote-pingpong):p(\d+)$", o.get("key") or w)
    if m:
        w, pairs = m.group(1), int(m.group(2))
    if w == "remote-pingpong" and pairs is not None:
        pairs = int(pairs)
    remote.setdefault((w, pairs), {}).setdefault(rnd, {})[impl] = o


def print_remote():
    def num(v):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"

    for (w, pairs), rounds in remote.items():
        if not w.startswith("remote-"):
            continue
        ask = w == "remote-ask-latency"
        title = f"{w} P={pairs}" if pairs is not None else w
        unit = "p50 / p99 us (asks/s), us CPU per ask" if ask else "messages/s" + (" (round trips/s)" if pairs else "") + ", us CPU per message"
        print(f"== {title}: {unit}")
        for rnd, impls in sorted(rounds.items()):
            cells = []
            for impl in sorted(impls, key=lambda i: (i != "recall", i)):
                o = impls[impl]
                if "error" in o:
                    cells.append(f"{impl} ERROR ({o['error'][:80]})")
                    continue
                ex = o.get("extra") or {}
                cpu = ex.get("cpu_us_per_msg")
                cpu = f", {num(cpu)} us CPU" if cpu is not None else ""
                if ask:
                    cells.append(f"{impl} {num(ex['p50_us'])} / {num(ex['p99_us'])} us ({num(o['per_sec'])}/s){cpu}")
                else:
                    rt = f" ({num(ex['round_trips_per_sec'])} rt/s)" if "round_trips_per_sec" in ex else ""
                    cells.append(f"{impl} {num(o['per_sec'])}{rt}{cpu}")
            print(f"  round {rnd}: " + "; ".join(cells))
            r = impls.get("recall")
            if not r or "error" in r:
                continue
            ratios = []
            for impl, o in sorted(impls.items()):
                if impl == "recall" or "error" in o:
                    continue
                ex, rex = o.get("extra") or {}, r.get("extra") or {}
                if ask:
                    # latency: below 1 means Recall answers faster
                    ratios.append(f"p50 recall/{impl} = {rex['p50_us'] / ex['p50_us']:.2f}, p99 = {rex['p99_us'] / ex['p99_us']:.2f}")
                else:
                    ratios.append(f"rate recall/{impl} = {r['per_sec'] / o['per_sec']:.2f}")
                if rex.get("cpu_us_per_msg") and ex.get("cpu_us_per_msg"):
                    ratios.append(f"CPU/msg recall/{impl} = {rex['cpu_us_per_msg'] / ex['cpu_us_per_msg']:.2f}")
            if ratios:
                print("           " + "; ".join(ratios))
            counts = {impl: o.get("count", o.get("n")) for impl, o in impls.items() if "error" not in o}
            if len(set(counts.values())) > 1:
                print("           NOT LIKE FOR LIKE, the counts differ: " + ", ".join(f"{i} {c}" for i, c in sorted(counts.items())))
            loads = [f"{impl} {(o.get('extra') or {}).get('loadavg_1m', '?')}" for impl, o in sorted(impls.items()) if "error" not in o]
            print("           load 1 min: " + ", ".join(loads))


for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.jsonl"))):
    m = re.match(r"(.*)-(\d+)\.jsonl$", os.path.basename(path))
    if not m:
        continue
    impl, rnd = m.group(1), int(m.group(2))
    for line in open(path):
        if not line.strip():
            continue
        o = json.loads(line)
        if o["workload"].startswith("remote-") or o["workload"].startswith("akka-singleton"):
            remote_line(o.get("impl", impl), rnd, o)
            continue
        w = NAMES.get(o["workload"], o["workload"])
        if "error" in o:
            rows.setdefault(w, {}).setdefault(rnd, {})[impl] = ("error", o["error"])
            continue
        rate = o.get("per_sec", o.get("events_per_sec"))
        mem = (o.get("extra") or {}).get("bytes_per_actor", o.get("heap_bytes_per_actor"))
        rows.setdefault(w, {}).setdefault(rnd, {})[impl] = (rate, mem)
for w in ["tell-pingpong", "tell-oneway", "idle-memory"]:
    if w not in rows:
        continue
    print(f"== {w}" + (" (heap bytes per actor; rate = actors/s)" if w == "idle-memory" else " (messages/s)"))
    for rnd, impls in sorted(rows[w].items()):
        cells = []
        for impl in ("recall", "proto", "akka"):
            v = impls.get(impl)
            if v is None:
                continue
            if v[0] == "error":
                cells.append(f"{impl} ERROR")
            elif w == "idle-memory":
                cells.append(f"{impl} {v[1]:,.0f} B ({v[0]:,.0f}/s)")
            else:
                cells.append(f"{impl} {v[0]:,.0f}")
        r = impls.get("recall")
        others = [impls[i][0] for i in ("proto", "akka") if i in impls and impls[i][0] != "error"]
        ratio = ""
        if r and r[0] != "error" and others:
            if w == "idle-memory":
                ratio = f"  recall/proto bytes = {r[1] / impls['proto'][1]:.2f}" if "proto" in impls else ""
            else:
                ratio = f"  recall/faster anchor = {r[0] / max(others):.2f}"
        print(f"  round {rnd}: " + ", ".join(cells) + ratio)
print_remote()
