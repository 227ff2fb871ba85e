#!/usr/bin/env bash
# Assembles the local container base the image tests build on, as a `docker save` tarball for Jib's tar:// base:
# scratch + a jlink runtime of this build's JDK at /opt/java/openjdk (where the Temurin base has its JRE) + the
# Debian runtime libraries the JVM and libtorch link against (glibc, zlib, libstdc++, libgcc, libgomp), copied from
# this machine. No registry is reachable here, so the pinned bases users build on (the `images` profile) cannot be
# pulled; this one is built from what the machine has. Usage: build-local-base.sh OUT.tar
set -euo pipefail
out=$(realpath -m "$1")
script=$(realpath "$0")
if [[ -f "$out" && "$out" -nt "$script" ]]; then
  echo "local base up to date: $out"
  exit 0
fi
work=$(dirname "$out")/local-base
rm -rf "$work" && mkdir -p "$work/root"
root=$work/root

# A Java runtime with the modules the services and the rlhf command use (java.se; sun.misc.Unsafe for Netty and
# protobuf; EC for TLS; the Vector API of the batch-1 decoder; JMX and JFR for diagnostics).
modules=java.se,jdk.unsupported,jdk.crypto.ec,jdk.incubator.vector,jdk.management,jdk.jfr,jdk.zipfs,jdk.net,jdk.naming.dns
jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 \
  --output "$root/opt/java/openjdk"

# The shared libraries (ldd of the JVM's and of libtorch's libraries on Debian 12), from this machine's Debian.
multiarch=lib/x86_64-linux-gnu
mkdir -p "$root/$multiarch" "$root/lib64"
for lib in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libz.so.1 libgcc_s.so.1 libstdc++.so.6 \
           libgomp.so.1; do
  found=""
  for dir in "/$multiarch" "/usr/$multiarch"; do
    if [[ -e "$dir/$lib" ]]; then found="$dir/$lib"; break; fi
  done
  [[ -n "$found" ]] || { echo "build-local-base.sh: $lib not found on this machine" >&2; exit 1; }
  cp -L "$found" "$root/$multiarch/$lib"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

# The unprivileged user of the images (10001, as in k8s/images/Dockerfile), a world-writable /tmp.
mkdir -p "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
printf 'root:x:0:0:root:/root:/sbin/nologin\nrlhf:x:10001:10001:rlhf:/nonexistent:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nrlhf:x:10001:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"

# One layer, reproducible (sorted, fixed time and owner), then the docker-save wrapping: config, manifest, layer.
(cd "$root" && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" .)
digest=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/opt/java/openjdk/bin:/usr/bin:/bin","JAVA_HOME=/opt/java/openjdk","LANG=C.UTF-8"]},"rootfs":{"type":"layers","diff_ids":["sha256:$digest"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"image-base/build-local-base.sh"}]}
JSON
echo '[{"Config":"config.json","RepoTags":["rlhf-local-base:latest"],"Layers":["layer.tar"]}]' > "$work/manifest.json"
(cd "$work" && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out.partial" \
  manifest.json config.json layer.tar)
mv "$out.partial" "$out"
rm -rf "$work"
echo "local base: $out ($(du -h "$out" | cut -f1))"
