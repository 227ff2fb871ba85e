#!/usr/bin/env bash
# Full fine-tuning against LoRA r=8 in a PPO iteration on the gqa shape (issue 15), one JVM per case,
# alternating modes for ROUNDS rounds. Results: $OUT/<mode>-<round>.json; docs/benchmarks.md has the table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/bench/target/lora-bench}"
ROUNDS="${ROUNDS:-3}"
CP="$ROOT/bench/target/bench-0.1.0-SNAPSHOT.jar:$(cat "$ROOT/bench/target/classpath.txt")"
export OMP_WAIT_POLICY=PASSIVE
run() { java -Dai.djl.offline=true -Xmx1g -cp "$CP" dev.rlhf.bench.LoraBench "$@" 2>&1 | grep -v "WARN\|INFO" || true; }
mkdir -p "$OUT"
rm -rf "$OUT/base"
run --write-base "$OUT/base" --shape gqa
for round in $(seq 1 "$ROUNDS"); do
  for mode in full lora; do
    run --mode "$mode" --base "$OUT/base" --rank 8 --batch 16 --mini-batch 8 --iterations 3 --out "$OUT/$mode-$round.json"
  done
done
