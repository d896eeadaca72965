#!/usr/bin/env bash
# Measures every task with ILO, CSGM and PULSE on the shipped models (MODELS, default: the DCGAN
# and the trained StyleGAN2) and the evaluation faces (FACES, default: the shipped face and the
# eight lfw_subset faces 50-57 of models/samples/lfw/), on the compiled engine (release build),
# and prints a markdown table: PSNR, SSIM and LPIPS(squeeze) of each method and of the naive
# reconstruction (bicubic upsampling for superres), each a mean over the faces, and the ILO
# result minus its best round's PSNR (selection: 0 when the chosen round is the best one; with an
# ensemble, its rounds are the means of its runs' rounds) and, last, minus the best round of the
# first run alone.
# Strips of the first face go to docs/tasks/ (DCGAN) and docs/tasks/MODEL/ (others).
# All methods get the same step budget (230 steps; ILO 100,60,40,30). LPIPS(squeeze) uses the
# Caffe-trained SqueezeNet in ../shared/weights/ when present: its absolute values differ from
# the reference LPIPS (a differently trained backbone), its ordering is sound.
# Extra `iloc invert` flags for ILO: ILO_FLAGS, its steps ILO_STEPS (empty: iloc's default); METHODS (default "ilo csgm pulse"),
# TASKS; STRIPS=0 leaves docs/ alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
iloc=.build/release/iloc
squeeze=../shared/weights/squeezenet1_1-features-caffe.safetensors
lp=(); [ -f "$squeeze" ] && lp=(--lpips-backbone "$squeeze")
faces=${FACES:-models/samples/face64.png $(ls models/samples/lfw/lfw0*.png | tr '\n' ' ')}
tasks=${TASKS:-inpaint superres denoise cs-circulant cs-gaussian colorize}
methods=${METHODS:-ilo csgm pulse}
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
nfaces=$(echo $faces | wc -w)
echo "| model | task | method | PSNR (dB) | SSIM | LPIPS(sq) | naive PSNR | naive SSIM | naive LPIPS(sq) | wins vs naive | result − best round (dB) | s/face | result − first run's best round (dB) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for model in $models; do
strips=docs/tasks; [ "$model" = dcgan ] || strips=docs/tasks/$model
mkdir -p "$strips"
for task in $tasks; do
  f=${flags[$task]}
  for method in $methods; do
    case $method in
      ilo) steps=${ILO_STEPS-100,60,40,30}; extra=${ILO_FLAGS:-} ;;
      *) steps="230"; extra="" ;;
    esac
    case $steps in
      "") stepflag=() ;;
      *) stepflag=(--steps "$steps") ;;
    esac
    reports=()
    start=$(date +%s.%N)
    k=0
    for face in $faces; do
      case $task in
        cs-*) observed=$face ;;
        *) observed=$work/$task-$k.png; $iloc degrade --task $task $f --input $face -o "$observed" > /dev/null ;;
      esac
      out=$work/$task-$method-$k
      $iloc invert --task $task $f --model $model --observed "$observed" --ground-truth $face --method $method \
        "${stepflag[@]}" "${lp[@]}" $extra -o "$out" > "$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
      reports+=("$out/report.json")
      [ $k = 0 ] && [ "${STRIPS:-1}" = 1 ] && cp "$out/strip.png" "$strips/$task-$method.png"
      k=$((k + 1))
    done
    end=$(date +%s.%N)
    python3 scripts/bench/summarize_reports.py "$model" "$task" "$method" "$(echo "($end - $start) / $nfaces" | bc -l)" "${reports[@]}"
  done
done
done
