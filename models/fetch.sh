#!/usr/bin/env bash
# Fetches the third-party model weights iloc uses into models/cache/ (not committed).
# Needs only python3 with pip (no torch). Idempotent: files already present with the
# recorded sha256 are kept; anything else is downloaded again and verified.
#
#   models/cache/wheels/                       the two PyPI wheels (pinned versions)
#   models/cache/gan_face_generate/weights.tar DCGAN face generator (gan-face-generate 1.1.1, MIT)
#   models/cache/lpips/v0.1/{vgg,alex,squeeze}.pth   LPIPS v0.1 linear heads (lpips 0.1.4, BSD-2)
#   models/cache/torchvision/{vgg16,alexnet}-*.pth   optional LPIPS backbones (BSD-3), when reachable
#
# Usage: bash models/fetch.sh        (from anywhere; paths are relative to this script)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/cache"
wheels="$cache/wheels"

GFG_WHEEL="gan_face_generate-1.1.1-py3-none-any.whl"
GFG_WHEEL_SHA="24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569"
LPIPS_WHEEL="lpips-0.1.4-py3-none-any.whl"
LPIPS_WHEEL_SHA="fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e"

# target path (relative to cache) | member inside the wheel | wheel | sha256
FILES=(
  "gan_face_generate/weights.tar|gan_face_generate/weights.tar|$GFG_WHEEL|0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f"
  "lpips/v0.1/vgg.pth|lpips/weights/v0.1/vgg.pth|$LPIPS_WHEEL|a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"
  "lpips/v0.1/alex.pth|lpips/weights/v0.1/alex.pth|$LPIPS_WHEEL|df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"
  "lpips/v0.1/squeeze.pth|lpips/weights/v0.1/squeeze.pth|$LPIPS_WHEEL|4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76"
)

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

all_present() {
  local entry target member wheel sha
  for entry in "${FILES[@]}"; do
    IFS='|' read -r target member wheel sha <<<"$entry"
    sha_ok "$cache/$target" "$sha" || return 1
  done
}

# Optional: torchvision's ImageNet VGG16 and AlexNet, the backbones of the reference LPIPS
# (--lpips-backbone). As torch.hub's check_hash does (what the lpips package relies on), a file
# is accepted when its sha256 starts with the hex digits published in its name. Failing to
# reach download.pytorch.org is reported and is not an error.
OPTIONAL=(
  "torchvision/vgg16-397923af.pth|https://download.pytorch.org/models/vgg16-397923af.pth|397923af"
  "torchvision/alexnet-owt-7be5be79.pth|https://download.pytorch.org/models/alexnet-owt-7be5be79.pth|7be5be79"
)

fetch_optional() {
  local entry target url prefix
  for entry in "${OPTIONAL[@]}"; do
    IFS='|' read -r target url prefix <<<"$entry"
    if [ -f "$cache/$target" ] && sha256sum "$cache/$target" | grep -q "^$prefix"; then continue; fi
    mkdir -p "$(dirname "$cache/$target")"
    if ! python3 - "$url" "$cache/$target.part" <<'PY' 2>/dev/null
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=30) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    then
      rm -f "$cache/$target.part"
      echo "fetch.sh: cannot reach $url (optional LPIPS backbone; skipped)"
      continue
    fi
    if sha256sum "$cache/$target.part" | grep -q "^$prefix"; then
      mv "$cache/$target.part" "$cache/$target"
      echo "models/cache/$target: ok"
    else
      rm -f "$cache/$target.part"
      echo "fetch.sh: sha256 of $url does not start with $prefix; not kept" >&2
    fi
  done
}

if all_present; then
  echo "models/cache: all files present and verified"
  fetch_optional
  exit 0
fi

command -v python3 >/dev/null || { echo "fetch.sh: python3 is required" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { echo "fetch.sh: pip is required (apt-get install python3-pip)" >&2; exit 1; }
mkdir -p "$wheels"

if ! sha_ok "$wheels/$GFG_WHEEL" "$GFG_WHEEL_SHA" || ! sha_ok "$wheels/$LPIPS_WHEEL" "$LPIPS_WHEEL_SHA"; then
  rm -f "$wheels/$GFG_WHEEL" "$wheels/$LPIPS_WHEEL"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    gan-face-generate==1.1.1 lpips==0.1.4 -d "$wheels"
fi
sha_ok "$wheels/$GFG_WHEEL" "$GFG_WHEEL_SHA" || { echo "fetch.sh: sha256 mismatch for $GFG_WHEEL" >&2; exit 1; }
sha_ok "$wheels/$LPIPS_WHEEL" "$LPIPS_WHEEL_SHA" || { echo "fetch.sh: sha256 mismatch for $LPIPS_WHEEL" >&2; exit 1; }

for entry in "${FILES[@]}"; do
  IFS='|' read -r target member wheel sha <<<"$entry"
  sha_ok "$cache/$target" "$sha" && continue
  mkdir -p "$(dirname "$cache/$target")"
  python3 - "$wheels/$wheel" "$member" "$cache/$target.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  sha_ok "$cache/$target.part" "$sha" || { rm -f "$cache/$target.part"; echo "fetch.sh: sha256 mismatch for $target" >&2; exit 1; }
  mv "$cache/$target.part" "$cache/$target"
  echo "models/cache/$target: ok"
done
echo "models/cache: all files present and verified"
fetch_optional
