#!/usr/bin/env bash
# Measures every task with ILO, CSGM and PULSE on the shipped models (MODELS, default: the DCGAN
# and the trained StyleGAN2) and the shipped face, on the compiled engine (release build), and
# prints a markdown table; strips go to docs/tasks/ (DCGAN) and docs/tasks/MODEL/ (others).
# All methods get the same step budget (230 steps). LPIPS is not reported: it needs trained
# VGG16 backbone weights, which cannot be downloaded here.
set -euo pipefail
cd "$(dirname "$0")/../.."
iloc=.build/release/iloc
face=models/samples/face64.png
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A flags=(
  [inpaint]="--mask random:0.2 --operator-seed 1"
  [superres]="--factor 4"
  [denoise]="--sigma 0.2"
  [cs-circulant]="--measurements 0.1 --operator-seed 1"
  [cs-gaussian]="--measurements 0.1 --operator-seed 1"
  [colorize]=""
)
models=${MODELS:-dcgan stylegan2-face64}
echo "| model | task | method | PSNR (dB) | SSIM | naive PSNR | wall time (s) |"
echo "|---|---|---|---|---|---|---|"
for model in $models; do
strips=docs/tasks; [ "$model" = dcgan ] || strips=docs/tasks/$model
mkdir -p "$strips"
for task in inpaint superres denoise cs-circulant cs-gaussian colorize; do
  f=${flags[$task]}
  case $task in
    cs-*) observed=$face ;;
    *) observed=$work/$task.png; $iloc degrade --task $task $f --input $face -o "$observed" > /dev/null ;;
  esac
  [ "$task" = inpaint ] && f="$f" # the same seed regenerates the same mask
  for method in ilo csgm pulse; do
    case $method in
      ilo) steps="100,60,40,30" ;;
      *) steps="230" ;;
    esac
    out=$work/$task-$method
    start=$(date +%s.%N)
    $iloc invert --task $task $f --model $model --observed "$observed" --ground-truth $face --method $method --steps $steps -o "$out" > "$out.log" 2>&1
    end=$(date +%s.%N)
    python3 - "$out/report.json" "$model" "$task" "$method" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f, n = r["final"], r["naive"]
m, t, meth, t0, t1 = sys.argv[2:7]
print(f"| {m} | {t} | {meth} | {f['psnr']:.2f} | {f['ssim']:.3f} | {n['psnr']:.2f} | {float(t1) - float(t0):.1f} |")
PY
    cp "$out/strip.png" "$strips/$task-$method.png"
  done
done
done
