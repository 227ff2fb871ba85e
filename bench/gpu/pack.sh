#!/usr/bin/env bash
# Packs the GPU bundle of issue 14 into bench/gpu/bundle (git-ignored; at most 60 MiB, checked):
#   runtime/   a jlink runtime with only the modules the checks need (the GPU machine has no Java)
#   lib/       the slim classpath of the model code: no Kafka, no services, no pytorch-native-cpu, no pytorch-jni
#   jni/       DJL 0.36's JNI sources (from a local DJL checkout, never committed), the JNI header made here with
#              javac -h, and jni.h/jni_md.h, so the GPU machine can compile libdjl_torch.so against its own torch
#   run.sh, torch_yardstick.py
# Usage: bench/gpu/pack.sh [--djl-git DIR]   (DIR: a DJL git directory holding tag v0.36.0; default: the mirror
#        fetched for this project, /work/.mirror/deepjavalibrary+djl/repo)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/bench/gpu/bundle"
DJL_GIT="/work/.mirror/deepjavalibrary+djl/repo"
DJL_TAG="v0.36.0"
LIMIT_MIB=60
while [ $# -gt 0 ]; do
  case "$1" in
    --djl-git) DJL_GIT="$2"; shift 2 ;;
    *) echo "pack.sh: unknown argument $1 (see the header of this file)" >&2; exit 2 ;;
  esac
done
[ -d "$DJL_GIT" ] || { echo "pack.sh: no DJL git directory at $DJL_GIT (--djl-git DIR)" >&2; exit 2; }

echo "pack.sh: building the model code ..." >&2
(cd "$ROOT" && ./mvnw -B -q -o install -DskipTests -Dimages.skip=true -pl bench -am >&2)
rm -rf "$OUT" && mkdir -p "$OUT/lib" "$OUT/jni/include"

# The model code's runtime classpath, without the CPU natives and the shipped JNI (the GPU run brings its own).
CP_FILE="$(mktemp)"
(cd "$ROOT" && ./mvnw -B -q -o dependency:build-classpath -pl llama -Dmdep.includeScope=runtime \
    -Dmdep.outputFile="$CP_FILE" >&2)
# (junit and friends: test scope leaks into the parent's list; the tokenizers jar: the checks need no tokenizer.)
tr ':' '\n' < "$CP_FILE" | grep -v -e pytorch-native- -e pytorch-jni- -e /tokenizers- -e /junit- -e /opentest4j- \
    -e /apiguardian- | while read -r jar; do
  cp "$jar" "$OUT/lib/"
done
cp "$ROOT"/llama/target/llama-*.jar "$ROOT"/vocabulary/target/vocabulary-*.jar "$ROOT"/bench/target/bench-*.jar \
   "$OUT/lib/"
rm -f "$OUT"/lib/*-tests.jar "$OUT"/lib/*-sources.jar

# jdeps cannot resolve these jars as modules (commons-compress requires commons-lang3, absent at run time); the
# dry run of run.sh is what proves this list sufficient.
MODULES="java.base,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported"
echo "pack.sh: jlink $MODULES" >&2
jlink --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$OUT/runtime"

git -C "$DJL_GIT" archive "$DJL_TAG" engines/pytorch/pytorch-native/src/main/native \
    engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java api/src/main/native \
  | tar -x -C "$OUT/jni"
TMP_CLASSES="$(mktemp -d)"
javac -h "$OUT/jni/include" -d "$TMP_CLASSES" \
  "$OUT/jni/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java"
rm -rf "$TMP_CLASSES" "$CP_FILE"
JDK="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
cp "$JDK/include/jni.h" "$JDK/include/linux/jni_md.h" "$OUT/jni/include/"
cp "$ROOT/bench/gpu/run.sh" "$ROOT/bench/gpu/torch_yardstick.py" "$OUT/"

SIZE_BYTES=$(du -sb "$OUT" | cut -f1)
SIZE_MIB=$(( SIZE_BYTES / 1048576 ))
echo "pack.sh: $OUT is $SIZE_MIB MiB ($SIZE_BYTES bytes; limit $LIMIT_MIB MiB): runtime $(du -sh "$OUT/runtime" | cut -f1), lib $(du -sh "$OUT/lib" | cut -f1), jni $(du -sh "$OUT/jni" | cut -f1)" >&2
if [ "$SIZE_BYTES" -gt $(( LIMIT_MIB * 1048576 )) ]; then
  echo "pack.sh: the bundle is over $LIMIT_MIB MiB" >&2
  exit 1
fi
