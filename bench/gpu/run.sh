#!/usr/bin/env bash
# The GPU run of issue 14, in one call, from the unpacked bundle (see pack.sh):
#   bundle/run.sh OUT_DIR          on the GPU machine: compile DJL's JNI against the installed torch, run the checks
#                                  (bench GpuChecks), then the PyTorch yardstick on the same card
#   bundle/run.sh OUT_DIR --dry    anywhere: no compile, DJL's shipped JNI and CPU libtorch (DRY_CLASSPATH names their
#                                  jars), small shapes on the CPU: checks the script and every code path, not a GPU
# Writes OUT_DIR/results.json (the checks), OUT_DIR/torch.json (the yardstick), OUT_DIR/run.json (what ran, exit
# codes) and OUT_DIR/logs/. Keeps going after a failure, so one run shows every problem.
set -uo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:?usage: run.sh OUT_DIR [--dry]}"
DRY=0
[ "${2:-}" = "--dry" ] && DRY=1
mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
JAVA="$B/runtime/bin/java"
STEPS=()
step() { STEPS+=("\"$1\": $2"); echo "run.sh: $1 -> exit $2" >&2; }
export DJL_OFFLINE=true OMP_WAIT_POLICY=PASSIVE

if [ "$DRY" = 1 ]; then
  : "${DRY_CLASSPATH:?--dry needs DRY_CLASSPATH: the pytorch-native-cpu and pytorch-jni jars, ':'-separated}"
  CP="$B/lib/*:$DRY_CLASSPATH"
  DEVICE=cpu
  PY_DEVICE=cpu
  step compile_jni '"skipped (dry)"'
else
  TORCH_DIR="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
  TV="$(python3 -c 'import torch; print(torch.__version__.split("+")[0])')"
  CUDA_V="$(python3 -c 'import torch; print((torch.version.cuda or "").replace(".", ""))')"
  ABI="$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
  CUDA_HOME="${CUDA_HOME:-$(python3 -c 'from torch.utils.cpp_extension import CUDA_HOME; print(CUDA_HOME or "")')}"
  FLAVOR="cu${CUDA_V}"
  [ -z "$CUDA_V" ] && FLAVOR=cpu
  echo "run.sh: torch $TV ($FLAVOR, C++11 ABI $ABI) in $TORCH_DIR; CUDA_HOME=$CUDA_HOME" >&2
  SRC="$B/jni/engines/pytorch/pytorch-native/src/main/native"
  BUILD="$OUT/jni-build"
  rm -rf "$BUILD"   # a rerun into the same OUT must not report old failures or link old objects
  mkdir -p "$BUILD"
  CUDA_FLAGS=""
  [ "$FLAVOR" != cpu ] && [ -n "$CUDA_HOME" ] && CUDA_FLAGS="-DUSE_CUDA -I$CUDA_HOME/include"
  FLAGS="-std=gnu++17 -O2 -fPIC -D_GLIBCXX_USE_CXX11_ABI=$ABI $CUDA_FLAGS -I$B/jni/include -I$B/jni/api/src/main/native
    -isystem $TORCH_DIR/include -isystem $TORCH_DIR/include/torch/csrc/api/include"
  # Every file compiles in parallel and every error is kept: one run shows them all.
  ls "$SRC"/*.cc | xargs -P "$(nproc)" -I{} sh -c \
    'f={}; g++ '"$FLAGS"' -c "$f" -o "'"$BUILD"'/$(basename "$f" .cc).o" > "'"$OUT"'/logs/$(basename "$f").log" 2>&1 \
     || echo "$f" >> "'"$BUILD"'/failed.txt"'
  if grep -q PyTorchLibrary_system "$BUILD/failed.txt" 2>/dev/null; then
    # The legacy profiler is the likeliest break on a newer torch: leave it out (startProfile/stopProfile throw).
    python3 - "$SRC/ai_djl_pytorch_jni_PyTorchLibrary_system.cc" "$BUILD/system_noprofiler.cc" <<'PY'
import sys
s = open(sys.argv[1]).read().replace("using namespace torch::autograd::profiler;", "")
a = s.index("// the code snippet is copied from torch/csrc/autograd/profiler_legacy.cpp")
b = s.index("JNIEXPORT void JNICALL Java_ai_djl_pytorch_jni_PyTorchLibrary_torchCudaEmptyCache")
stub = '''JNIEXPORT void JNICALL Java_ai_djl_pytorch_jni_PyTorchLibrary_torchStartProfile(
    JNIEnv* env, jobject jthis, jboolean juse_cuda, jboolean jrecord_shape, jboolean jprofile_memory) {
  env->ThrowNew(ENGINE_EXCEPTION_CLASS, "the profiler was left out of this JNI build");
}

JNIEXPORT void JNICALL Java_ai_djl_pytorch_jni_PyTorchLibrary_torchStopProfile(
    JNIEnv* env, jobject jthis, jstring joutput_file) {
  env->ThrowNew(ENGINE_EXCEPTION_CLASS, "the profiler was left out of this JNI build");
}

'''
open(sys.argv[2], "w").write(s[:a] + stub + s[b:])
PY
    cp "$SRC"/*.h "$BUILD/" 2>/dev/null
    if g++ $FLAGS -I"$SRC" -c "$BUILD/system_noprofiler.cc" -o "$BUILD/ai_djl_pytorch_jni_PyTorchLibrary_system.o" \
        > "$OUT/logs/system_noprofiler.log" 2>&1; then
      sed -i '/PyTorchLibrary_system/d' "$BUILD/failed.txt"
      echo "run.sh: compiled system.cc without the legacy profiler" >&2
    fi
  fi
  FAILED="$(cat "$BUILD/failed.txt" 2>/dev/null | sed '/^$/d' | wc -l)"
  if [ "$FAILED" -gt 0 ]; then
    echo "run.sh: $FAILED JNI source(s) failed to compile; their errors:" >&2
    for f in $(cat "$BUILD/failed.txt"); do grep -m 20 -e "error" "$OUT/logs/$(basename "$f").log" >&2; done
  fi
  LIBS="-ltorch -ltorch_cpu -lc10"
  [ "$FLAVOR" != cpu ] && LIBS="$LIBS -ltorch_cuda -lc10_cuda"
  g++ -shared "$BUILD"/*.o -o "$BUILD/libdjl_torch.so" -L"$TORCH_DIR/lib" -Wl,--no-as-needed $LIBS -Wl,--as-needed \
    -Wl,-rpath,"$TORCH_DIR/lib" > "$OUT/logs/link.log" 2>&1
  LINK=$?
  step compile_jni "$(( FAILED > 0 ? 1 : LINK ))"
  # Where DJL 0.36 looks for the JNI before anything else: <ENGINE_CACHE_DIR>/pytorch/<version>-<flavor>-<os-arch>/.
  export ENGINE_CACHE_DIR="$OUT/djl-cache"
  mkdir -p "$ENGINE_CACHE_DIR/pytorch/$TV-$FLAVOR-linux-x86_64"
  cp "$BUILD/libdjl_torch.so" "$ENGINE_CACHE_DIR/pytorch/$TV-$FLAVOR-linux-x86_64/0.36.0-libdjl_torch.so" 2>/dev/null
  export PYTORCH_LIBRARY_PATH="$TORCH_DIR/lib" PYTORCH_VERSION="$TV" PYTORCH_FLAVOR="$FLAVOR"
  CP="$B/lib/*"
  DEVICE=gpu
  PY_DEVICE=cuda
fi

# Converting to bf16 aborted the whole process with DJL 0.36's CPU libtorch: probe it in a JVM of its own.
"$JAVA" -Xss4m -cp "$CP" dev.rlhf.bench.GpuChecks --probe-bf16 --device "$DEVICE" > "$OUT/logs/bf16-probe.log" 2>&1
PROBE=$?
step bf16_probe "$PROBE"
BF16_FLAG=""
[ "$PROBE" != 0 ] && BF16_FLAG="--no-bf16"
DRY_FLAG=""
[ "$DRY" = 1 ] && DRY_FLAG="--dry"
"$JAVA" -Xss4m -cp "$CP" dev.rlhf.bench.GpuChecks --out "$OUT" --device "$DEVICE" $DRY_FLAG $BF16_FLAG \
  > "$OUT/logs/checks.log" 2>&1
step checks $?

if python3 -c 'import torch, transformers' > /dev/null 2>&1; then
  python3 "$B/torch_yardstick.py" --out "$OUT/torch.json" --device "$PY_DEVICE" $DRY_FLAG > "$OUT/logs/torch.log" 2>&1
  step torch_yardstick $?
else
  echo '{"skipped": "python3 cannot import torch and transformers here"}' > "$OUT/torch.json"
  step torch_yardstick '"skipped: no torch/transformers for python3"'
fi

{ echo "{"; printf '  "dry": %s,\n  "steps": {' "$([ "$DRY" = 1 ] && echo true || echo false)"
  (IFS=,; echo "${STEPS[*]}"); echo "  }"; echo "}"; } > "$OUT/run.json"
cat "$OUT/run.json"
# Exit 1 when a step that ran failed (the bf16 probe may fail: that only skips bf16).
for s in "${STEPS[@]}"; do
  case "$s" in
    '"bf16_probe"'*) ;;
    *': 0'|*'"skipped'*) ;;
    *) exit 1 ;;
  esac
done
exit 0
