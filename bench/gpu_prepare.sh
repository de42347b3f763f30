#!/usr/bin/env bash
# Run on the development machine, in the project root, before a GPU device call: puts the Debian
# .debs the build needs into .gpu/debs (ignored by git): CAF, cpp-httplib, nlohmann-json, stb,
# Catch2, ICU for the tokenizer, CLI11, OpenSSL headers for the Hub client's SHA-256, libpng and
# libjpeg-turbo for the image files, SentencePiece for SD3's T5 tokenizer. The GPU machine has no network: name ".gpu" in the device
# call's carry list; then run bench/gpu_check.sh there (it builds with bench/gpu_build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
mkdir -p .gpu/debs
cd .gpu/debs
for p in libcaf-dev libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 libcpp-httplib-dev libcpp-httplib0.11 \
    nlohmann-json3-dev libstb-dev libstb0 catch2 libicu-dev libicu72 icu-devtools libcli11-dev libssl-dev zlib1g-dev zlib1g libbrotli-dev libbrotli1 \
    libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo libsentencepiece-dev libsentencepiece0; do
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" 2>&1 | grep -v '^W:' || true
done
# libicu-dev without its static libraries (40 MB unpacked; the build links the shared ones): the
# device machine's working-tree copy is limited to 64 MiB.
for d in libicu-dev_*.deb; do
  if dpkg -c "$d" | grep -q '\.a$'; then
    t=$(mktemp -d)
    dpkg-deb -R "$d" "$t/x" && rm -f "$t"/x/usr/lib/x86_64-linux-gnu/*.a && dpkg-deb -Zxz -b "$t/x" "$t/new.deb" >/dev/null &&
      mv "$t/new.deb" "$d"
    rm -rf "$t"
  fi
done
ls -1 | wc -l | xargs echo "debs in .gpu/debs:"
