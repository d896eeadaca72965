#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for iloc: system packages, model weights, release build.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in llvm-19-dev libopenblas-dev libpng-dev pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
python3 -m pip --version >/dev/null 2>&1 || need_pip=1
if [ "${need_pip:-0}" = 1 ]; then ${SUDO:-} apt-get install -y -qq python3-pip; fi
if [ -f models/fetch.sh ]; then bash models/fetch.sh; fi
swift build -c release --product iloc
# The shipped DCGAN as a converted model (safetensors + JSON); `--model dcgan` prefers it.
if [ -f models/cache/gan_face_generate/weights.tar ]; then
  .build/release/iloc convert models/cache/gan_face_generate/weights.tar -o models/dcgan-face64.safetensors
fi
