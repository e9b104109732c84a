#!/usr/bin/env bash
# Runs Recall's remote workloads and then the remote-messaging anchors (Akka.NET and Proto.Actor,
# $ANCHORS/remote-bench) one after the other, ROUNDS times, on the same machine, then prints
# the medians side by side with ratios (bench/compare.py; rows join on workload + extra.pairs).
#   bench/side-by-side-remote.sh [ROUNDS] [FLAGS...]      (default 1 round)
# FLAGS go to both Recall's harness and the anchors' run.sh: --runs N, --warmups N, --scale-down K
# (smoke tests only: bench/side-by-side-remote.sh 1 --runs 1 --warmups 0 --scale-down 20).
# Environment: ANCHORS (the folder of the reference programs; required), SBS_DIR (results; default a new temp dir),
# RECALL_DLL (a prebuilt harness to run instead of building this checkout's), RECALL_ARGS (flags for
# Recall's harness only, e.g. "--serializer json"), IMPLS (anchors to run, default akka,proto).
# Each Recall workload runs in a fresh driver process, as the anchors' do; the anchors' run.sh builds
# both programs in a temp dir on every call (about a minute) and runs the workloads alternating them.
# The anchors are copied to a temporary folder first, as side-by-side.sh does. (Do not export a
# variable named OUTDIR here: MSBuild reads it as the OutDir property.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-1}
shift || true
anchors=${ANCHORS:?set ANCHORS to the folder of the reference programs (akkanet-bench, protoactor-bench, remote-bench)}
dir=${SBS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/recall-sbs-remote.XXXXXX")}
mkdir -p "$dir"
copy=$(mktemp -d "${TMPDIR:-/tmp}/recall-anchors.XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp -r "$anchors/remote-bench" "$copy/"
chmod -R u+w "$copy"
rm -f "$copy/remote-bench/results.jsonl"
if [ -z "${RECALL_DLL:-}" ]; then
  dotnet build -c Release "$here/Recall.Benchmarks" -nologo -v q >&2
  RECALL_DLL=$here/Recall.Benchmarks/bin/Release/net10.0/Recall.Benchmarks.dll
fi
read -r -a recall_args <<< "${RECALL_ARGS:-}"
rc=0
for r in $(seq 1 "$rounds"); do
  : > "$dir/recall-$r.jsonl"
  for w in remote-pingpong:p1 remote-pingpong:p16 remote-oneway remote-ask-latency; do
    echo "round $r recall $w $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$dir/load.txt" >&2
    dotnet "$RECALL_DLL" --workload "$w" "$@" "${recall_args[@]}" >> "$dir/recall-$r.jsonl" 2>> "$dir/recall-$r.err" || rc=1
  done
  echo "round $r anchors $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$dir/load.txt" >&2
  OUT=$dir/anchors-$r.jsonl "$copy/remote-bench/run.sh" --impl "${IMPLS:-akka,proto}" "$@" > /dev/null 2> "$dir/anchors-$r.err" || rc=1
done
echo "results in $dir (exit $rc)" >&2
python3 "$here/compare.py" "$dir"
exit $rc
