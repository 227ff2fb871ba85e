#!/usr/bin/env bash
# Runs every EngineBench case, each in a fresh JVM (so VmHWM / heap peaks belong to one case), plus MatmulPeak
# at 1 and 2 threads. JSON results go to $OUT (default bench/target/bench-results), one file per case.
#
#   bench/scripts/run-engine-bench.sh [shape ...]        (default: stories15m gqa)
#
# Env: OUT=dir, JAVA_OPTS="...", and QUIET_MAX / QUIET_WAIT / RETRIES / RERUN_FOREIGN (bench/scripts/lib.sh).
# The machine is shared: each case waits (bounded) for an idle CPU, records the CPU % other processes took
# during its timed runs, and is rerun when that was high.
# Build first: ./mvnw -o -q -B -pl bench -am install -DskipTests -Dimages.skip=true
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/target/bench-results}
mkdir -p "$OUT"
# Run from a private copy of the jars: other people rebuilding llama/ mid-run must not change the code measured.
# REUSE_LIB=1 keeps the copy already in $OUT/lib (e.g. to rerun noisy cases on the same code).
CP=""
if [ "${REUSE_LIB:-0}" = 1 ] && [ -d "$OUT/lib" ]; then
  for j in bench/target/bench-0.1.0-SNAPSHOT.jar $(tr ':' ' ' < bench/target/classpath.txt); do
    CP="$CP${CP:+:}$OUT/lib/$(basename "$j")"
  done
else
  rm -rf "$OUT/lib" && mkdir -p "$OUT/lib"
  for j in bench/target/bench-0.1.0-SNAPSHOT.jar $(tr ':' ' ' < bench/target/classpath.txt); do
    cp "$j" "$OUT/lib/" && CP="$CP${CP:+:}$OUT/lib/$(basename "$j")"
  done
  git log -1 --format='llama code: commit %h %cd' > "$OUT/code-version.txt"
  git status --short -- llama >> "$OUT/code-version.txt"
fi
JAVA=(java -Dai.djl.offline=true ${JAVA_OPTS:-} -cp "$CP")
SHAPES=("$@")
[ ${#SHAPES[@]} -eq 0 ] && SHAPES=(stories15m gqa)
. bench/scripts/lib.sh

run() {
  local name=$1; shift
  run_case "$OUT/$name.json" "${JAVA[@]}" "$@"
}

for t in 1 2; do
  run "matmul-t$t" dev.rlhf.bench.MatmulPeak --threads "$t" --sizes 1024,2048 --seconds 5
done
for s in "${SHAPES[@]}"; do
  run "$s-ops-b1" dev.rlhf.bench.EngineBench --shape "$s" --case ops --batch 1
  run "$s-decode-b1-t1" dev.rlhf.bench.EngineBench --shape "$s" --case decode --batch 1 --threads 1
  for b in 1 8 32; do
    run "$s-decode-b$b" dev.rlhf.bench.EngineBench --shape "$s" --case decode --batch "$b"
  done
  for b in 1 8; do
    run "$s-prefill-b$b" dev.rlhf.bench.EngineBench --shape "$s" --case prefill --batch "$b" --seq 128
  done
  run "$s-train-b8" dev.rlhf.bench.EngineBench --shape "$s" --case train --batch 8 --seq 256
done
echo "results in $OUT"
