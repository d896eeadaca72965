#!/usr/bin/env bash
# Makes color faces for measuring colorization, which the gray lfw faces cannot judge (their
# gray image is the exact answer): the shipped face, scikit-image's `astronaut` (Eileen Collins,
# a NASA photograph in the public domain) cropped to the face and reduced to 64x64 with Pillow's
# bicubic filter, and six samples of the shipped StyleGAN2 (`iloc sample`, seeds 201-206), which
# the DCGAN did not draw. Not committed; docs/quality.md ("Restarts") used them.
#
#   bash scripts/faces/make_color_faces.sh [DIR]      # default DIR: /tmp/iloc-color-faces
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/iloc-color-faces}
mkdir -p "$out"
cp models/samples/face64.png "$out/face64.png"
python3 - "$out/astronaut.png" <<'EOF'
import sys
from PIL import Image
from skimage.data import astronaut
Image.fromarray(astronaut()[30:230, 140:340]).resize((64, 64), Image.BICUBIC).save(sys.argv[1])
EOF
for seed in 201 202 203 204 205 206; do
  .build/release/iloc sample --model stylegan2-face64 --seed $seed -o "$out/sg$seed.png" > /dev/null
done
ls "$out"/*.png
