#!/usr/bin/env bash
# Runs Recall's harness and the two anchor programs (the folder ANCHORS names) one after the other, ROUNDS
# times, on the same machine, then prints the medians side by side with ratios.
#   bench/side-by-side.sh [ROUNDS]            (default 2)
# Environment: ANCHORS (the folder of the reference programs; required), SBS_DIR (results; default a new temp dir),
# RECALL_DLL (a prebuilt harness to run instead of building this checkout's).
# The anchors are copied to a temporary folder first: their run.sh builds in place whenever the
# folder looks writable, which it always does to root. (Do not export a variable named OUTDIR
# here: MSBuild reads it as the OutDir property and the anchor builds land in the wrong place.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-2}
anchors=${ANCHORS:?set ANCHORS to the folder of the reference programs (akkanet-bench, protoactor-bench, remote-bench)}
dir=${SBS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/recall-sbs.XXXXXX")}
mkdir -p "$dir"
copy=$(mktemp -d "${TMPDIR:-/tmp}/recall-anchors.XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp -r "$anchors/protoactor-bench" "$anchors/akkanet-bench" "$copy/"
chmod -R u+w "$copy"
if [ -z "${RECALL_DLL:-}" ]; then
  dotnet build -c Release "$here/Recall.Benchmarks" -nologo -v q >&2
  RECALL_DLL=$here/Recall.Benchmarks/bin/Release/net10.0/Recall.Benchmarks.dll
fi
for r in $(seq 1 "$rounds"); do
  echo "round $r recall $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$dir/load.txt" >&2
  dotnet "$RECALL_DLL" > "$dir/recall-$r.jsonl" 2> "$dir/recall-$r.err"
  echo "round $r proto  $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$dir/load.txt" >&2
  OUT=$dir/proto-$r.jsonl "$copy/protoactor-bench/run.sh" > /dev/null 2> "$dir/proto-$r.err"
  echo "round $r akka   $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$dir/load.txt" >&2
  OUT=$dir/akka-$r.jsonl "$copy/akkanet-bench/run.sh" --only tell-throughput,idle-memory --journals inmem > /dev/null 2> "$dir/akka-$r.err"
done
echo "results in $dir" >&2
python3 "$here/compare.py" "$dir"
