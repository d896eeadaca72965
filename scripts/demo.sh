#!/usr/bin/env bash
# The default demo: ILO inpainting and 4x super-resolution of the shipped face with the shipped
# DCGAN, on the compiled engine. Run after scripts/setup.sh. Writes out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
iloc=.build/release/iloc
face=models/samples/face64.png
out=out/demo
mkdir -p "$out"

# Inpainting: 80 % of the pixels removed (seeded), recovered by 4 ILO rounds.
$iloc degrade --task inpaint --mask random:0.2 --operator-seed 1 --input "$face" -o "$out/inpaint-observed.png" --operator-out "$out/inpaint-operator.json"
$iloc invert --task inpaint --operator-file "$out/inpaint-operator.json" --model dcgan --observed "$out/inpaint-observed.png" \
  --ground-truth "$face" -o "$out/inpaint"

# Super-resolution x4: 16x16 -> 64x64.
$iloc degrade --task superres --factor 4 --input "$face" -o "$out/superres-observed.png"
$iloc invert --task superres --factor 4 --model dcgan --observed "$out/superres-observed.png" --ground-truth "$face" \
  -o "$out/superres"

echo "demo done: $out/inpaint/strip.png and $out/superres/strip.png (ground truth | naive | each round)"
