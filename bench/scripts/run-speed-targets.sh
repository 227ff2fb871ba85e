#!/usr/bin/env bash
# Issue 18's engine-speed targets, side by side in one sitting, per shape (default: stories15m gqa):
#   batch-1 decode: llama2.c -Ofast -fopenmp (OMP_NUM_THREADS=2) vs ours with the CPU decoder and with DJL,
#     prompt = token 1, 255 new tokens, temperature 1, top-p 1 (llama2.c: -t 1 -p 1 -n 256);
#   generate() at B=32, greedy and temperature 1, log-probabilities included: ours vs PyTorch eager;
#   training 8x256 (forward, backward, clipping, AdamW): ours vs PyTorch eager.
# Results: one JSON per case in $OUT (default bench/target/speed-results) and a table on stdout.
#
#   LLAMA2C_DIR=/tmp/llama2c bench/scripts/run-speed-targets.sh [shape ...]
#
# Needs: ./mvnw -o -q -B -pl bench -am install -DskipTests -Dimages.skip=true; python3-torch (Debian) for the PyTorch rows; llama2.c
# built as docs/benchmarks.md says (runomp + tokenizer.bin in $LLAMA2C_DIR). Each case waits for a quiet CPU
# (bench/scripts/lib.sh). Our JVM gets --add-modules jdk.incubator.vector and no OMP_WAIT_POLICY (active, as
# llama2.c runs; PyTorch gets OMP_WAIT_POLICY=PASSIVE, its best setting here); MKL_CBWR stays unset unless given (docs/benchmarks.md: per-role settings).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/target/speed-results}
mkdir -p "$OUT/lib"
CP=""
for j in bench/target/bench-0.1.0-SNAPSHOT.jar $(tr ':' ' ' < bench/target/classpath.txt); do
  cp "$j" "$OUT/lib/" && CP="$CP${CP:+:}$OUT/lib/$(basename "$j")"
done
git log -1 --format='code: commit %h %cd' > "$OUT/code-version.txt"
JAVA=(java -Dai.djl.offline=true --add-modules jdk.incubator.vector ${JAVA_OPTS:-} -cp "$CP")
PY=/usr/bin/python3
SHAPES=("$@")
[ ${#SHAPES[@]} -eq 0 ] && SHAPES=(stories15m gqa)
. bench/scripts/lib.sh

ours() { local name=$1; shift; wait_quiet; "${JAVA[@]}" dev.rlhf.bench.EngineBench "$@" --out "$OUT/$name.json" \
  2>&1 | grep -v 'WARN\|INFO' | grep 'tok/s' || true; }
torch() { local name=$1; shift; wait_quiet; OMP_WAIT_POLICY=${TORCH_OMP_WAIT_POLICY:-PASSIVE} $PY bench/scripts/torch_reference.py "$@" --out "$OUT/$name.json" \
  2>&1 | tail -1 || true; }

for s in "${SHAPES[@]}"; do
  if [ -n "${LLAMA2C_DIR:-}" ]; then
    ckpt=bench/target/llama2c-$s.bin
    [ -f "$ckpt" ] || $PY bench/scripts/make_llama2c_checkpoint.py --shape "$s" --out "$ckpt"
    wait_quiet
    rates=()
    for i in 1 2 3 4 5; do
      rates+=("$(OMP_NUM_THREADS=2 "$LLAMA2C_DIR/runomp" "$ckpt" -z "$LLAMA2C_DIR/tokenizer.bin" -t 1 -p 1 -n 256 \
        -s "$i" 2>&1 >/dev/null | sed -n -E 's/achieved tok\/s: ([0-9.]+)/\1/p')")
    done
    $PY -c 'import json,statistics,sys; r=[float(x) for x in sys.argv[2:]]; json.dump({"case":"llama2c-runomp-t2",
"tokPerSecRuns":r,"tokPerSec":statistics.median(r)},open(sys.argv[1],"w"))' "$OUT/$s-llama2c.json" "${rates[@]}"
    echo "$s llama2.c runomp 2 threads: ${rates[*]} tok/s"
  fi
  for engine in cpu djl; do
    ours "$s-b1-$engine" --shape "$s" --case decode --batch 1 --engine "$engine" --ids 1 --new-tokens 255 \
      --temperature 1 --threads 2 --repeats 5
  done
  for t in 0 1; do
    ours "$s-b32-t$t" --shape "$s" --case decode --batch 32 --temperature "$t" --threads 2
    torch "$s-b32-t$t-torch" --case decode --shape "$s" --batch 32 --temperature "$t" --logprobs
  done
  ours "$s-train" --shape "$s" --case train --batch 8 --seq 256 --threads 2
  torch "$s-train-torch" --case train --shape "$s" --batch 8 --seq 256
done

$PY - "$OUT" "${SHAPES[@]}" <<'PYEOF'
import json, os, sys
out, shapes = sys.argv[1], sys.argv[2:]
def get(name, key):
    p = os.path.join(out, name + ".json")
    return json.load(open(p)).get(key) if os.path.exists(p) else None
print("| shape | case | ours | reference | ratio |")
print("|---|---|---|---|---|")
for s in shapes:
    c = get(f"{s}-llama2c", "tokPerSec")
    for engine in ("cpu", "djl"):
        o = get(f"{s}-b1-{engine}", "generateWallTokPerSec")
        if o and c:
            print(f"| {s} | batch-1 decode, generate() wall, {engine} | {o:.0f} tok/s | llama2.c {c:.0f} | {o / c:.2f}x |")
    for t in (0, 1):
        o = get(f"{s}-b32-t{t}", "generateWallTokPerSec")
        r = get(f"{s}-b32-t{t}-torch", "generateWallTokPerSec")
        if o and r:
            print(f"| {s} | generate() B=32, T={t}, log-probs | {o:.0f} tok/s | torch {r:.0f} | {o / r:.2f}x |")
    o, r = get(f"{s}-train", "headline"), get(f"{s}-train-torch", "headline")
    if o and r:
        print(f"| {s} | training 8x256 | {o:.0f} tok/s | torch {r:.0f} | {o / r:.2f}x |")
PYEOF
