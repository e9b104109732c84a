#!/usr/bin/env python3
"""Side-by-side medians from a side-by-side.sh folder: recall-N.jsonl, proto-N.jsonl, akka-N.jsonl."""
import glob
import json
import os
import re
import sys

NAMES = {"tell-throughput:ping-pong": "tell-pingpong", "tell-throughput:one-way": "tell-oneway",
         "idle-memory": "idle-memory", "idle-memory-plain": "idle-memory"}
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.jsonl"))):
    m = re.match(r"(.*)-(\d+)\.jsonl$", os.path.basename(path))
    if not m:
        continue
    impl, rnd = m.group(1), int(m.group(2))
    for line in open(path):
        o = json.loads(line)
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
