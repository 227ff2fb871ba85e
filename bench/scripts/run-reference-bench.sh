#!/usr/bin/env bash
# Independent reference numbers for docs/benchmarks.md, same shapes as run-engine-bench.sh:
#  - memory bandwidth: STREAM-like triad (bench/scripts/triad.c) on 1 and 2 threads;
#  - PyTorch eager (Debian python3-torch, /usr/bin/python3): OpenBLAS core-type sweep, then decode / prefill /
#    training cases of bench/scripts/torch_reference.py, each in a fresh process;
#  - llama2.c run.c, only if LLAMA2C_DIR names a directory holding an already-built `run` (and optionally
#    `runomp`, the -fopenmp build) and its tokenizer.bin; this script neither fetches nor builds it.
# JSON results go to $OUT (default bench/target/bench-results). PARTS="triad torch llama2c" picks parts.
#
# Debian's torch runs its own ops on libgomp threads while OpenBLAS (pthread build) runs GEMMs on its own
# threads; with libgomp's default active spin-wait the two pools fight over the 2 cores (decode B=8 ran 4x
# slower). OMP_WAIT_POLICY=PASSIVE was the best setting measured (vs OPENBLAS_NUM_THREADS=1), so it is the
# default here; OPENBLAS_CORETYPE stays automatic (the sweep below shows auto = Haswell/Zen kernels).
#
#   [LLAMA2C_DIR=/tmp/llama2c] [OPENBLAS_CORETYPE=Haswell] bench/scripts/run-reference-bench.sh [shape ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-bench/target/bench-results}
mkdir -p "$OUT"
SHAPES=("$@")
[ ${#SHAPES[@]} -eq 0 ] && SHAPES=(stories15m gqa)
PY=/usr/bin/python3
PARTS=${PARTS:-triad torch llama2c}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
. bench/scripts/lib.sh

# 1. memory bandwidth
if [[ " $PARTS " == *" triad "* ]]; then
gcc -O3 -march=native -fopenmp bench/scripts/triad.c -o bench/target/triad
for t in 1 2; do
  wait_quiet
  best=0
  for i in 1 2 3; do
    g=$(OMP_NUM_THREADS=$t bench/target/triad | sed -E 's/.*best ([0-9.]+) GB.*/\1/')
    best=$($PY -c "print(max($best, $g))")
  done
  echo "triad threads=$t best of 3: $best GB/s"
  echo "{\"harness\": \"triad.c\", \"threads\": $t, \"gbPerSec\": $best, \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
    > "$OUT/triad-t$t.json"
done
fi

# 2. PyTorch eager
if [[ " $PARTS " == *" torch "* ]]; then
wait_quiet
$PY bench/scripts/torch_reference.py --case coretypes --out "$OUT/torch-coretypes.json"
for s in "${SHAPES[@]}"; do
  for b in 1 8 32; do
    run_case "$OUT/torch-$s-decode-b$b.json" $PY bench/scripts/torch_reference.py --shape "$s" --case decode --batch "$b"
  done
  run_case "$OUT/torch-$s-decode-b1-t1.json" $PY bench/scripts/torch_reference.py --shape "$s" --case decode --batch 1 --threads 1
  for b in 1 8; do
    run_case "$OUT/torch-$s-prefill-b$b.json" $PY bench/scripts/torch_reference.py --shape "$s" --case prefill --batch "$b" --seq 128
  done
  run_case "$OUT/torch-$s-train-b8.json" $PY bench/scripts/torch_reference.py --shape "$s" --case train --batch 8 --seq 256
done
fi

# 3. llama2.c (prebuilt), 16-token prompt (with BOS) + greedy to 256 positions, best and median of 5 runs
if [ -n "${LLAMA2C_DIR:-}" ] && [[ " $PARTS " == *" llama2c "* ]]; then
  PROMPT="Once upon a time there was a little girl who lived in a small village" # 15 tokens + BOS
  for s in "${SHAPES[@]}"; do
    ckpt=bench/target/llama2c-$s.bin
    [ -f "$ckpt" ] || $PY bench/scripts/make_llama2c_checkpoint.py --shape "$s" --out "$ckpt"
    for variant in run runomp; do
      [ -x "$LLAMA2C_DIR/$variant" ] || continue
      threads=1; [ "$variant" = runomp ] && threads=2
      wait_quiet
      rates=()
      for i in 1 2 3 4 5; do
        r=$(OMP_NUM_THREADS=$threads "$LLAMA2C_DIR/$variant" "$ckpt" -z "$LLAMA2C_DIR/tokenizer.bin" -t 0 -n 256 \
              -i "$PROMPT" 2>&1 >/dev/null | sed -n -E 's/achieved tok\/s: ([0-9.]+)/\1/p')
        rates+=("$r")
      done
      echo "llama2.c $variant $s threads=$threads tok/s: ${rates[*]}"
      $PY - "$OUT/llama2c-$s-$variant.json" "$s" "$variant" "$threads" "$(cut -d' ' -f1-3 /proc/loadavg)" "${rates[@]}" <<'PYEOF'
import json, statistics, sys
out, shape, variant, threads, load, *rates = sys.argv[1:]
r = [float(x) for x in rates]
json.dump({"harness": "llama2.c " + variant, "shape": shape, "threads": int(threads), "runs": r,
           "decodeTokPerSec": statistics.median(r), "best": max(r), "loadAfter": load}, open(out, "w"), indent=2)
PYEOF
    done
  done
fi
echo "results in $OUT"
