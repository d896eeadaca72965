#!/usr/bin/env bash
# Images per minute of `iloc batch` against a shell loop of `iloc invert` (one process per
# image) and `iloc batch --artifact`, on 16-row manifests of the shipped face with the shipped
# DCGAN, side by side in one run of this script (release build; each variant starts with an
# empty kernel cache). Manifest "one setup": inpainting with one box mask, 16 seeds. Manifest
# "four tasks": inpaint, superres x2, denoise, cs-circulant, 4 seeds each (4 setups; no
# artifact: an artifact is one setup). Checks that every variant wrote the same result.png.
#   bash scripts/bench/batch.sh            (STEPS=100,60,40,30 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
iloc=$(realpath "${ILOC:-.build/release/iloc}")
face=$PWD/models/samples/face64.png
steps=${STEPS:-100,60,40,30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$iloc" degrade --task superres --factor 2 --input "$face" -o "$tmp/small.png" >/dev/null

# id|task flags|observed
one=() four=()
for s in $(seq 1 16); do one+=("a$s|--task inpaint --mask box:20,16,24,32|$face"); done
for s in 1 2 3 4; do
  four+=("i$s|--task inpaint --mask box:20,16,24,32|$face" "s$s|--task superres --factor 2|$tmp/small.png"
         "d$s|--task denoise --sigma 0.1 --operator-seed 1|$face"
         "c$s|--task cs-circulant --measurements 0.1 --operator-seed 1|$face")
done
manifest() {  # rows... -> CSV on stdout
  echo "id,observed,task,mask,factor,sigma,measurements,operator_seed,seed"
  local r id flags obs k=0
  for r in "$@"; do
    IFS='|' read -r id flags obs <<< "$r"; k=$((k + 1))
    read -r -a f <<< "$flags"
    declare -A v=(); for ((i = 0; i < ${#f[@]}; i += 2)); do v[${f[i]}]=${f[i+1]}; done
    echo "$id,$obs,${v[--task]},\"${v[--mask]:-}\",${v[--factor]:-},${v[--sigma]:-},${v[--measurements]:-},${v[--operator-seed]:-},$k"
    unset v
  done
}
# "wall-seconds cpu-seconds" (user + system of the command and its children)
wall() {
  local TIMEFORMAT='%R %U %S' t
  t=$( { time "$@" >"$tmp/log" 2>&1; } 2>&1 ) || { cat "$tmp/log"; exit 1; }
  awk '{ printf "%.2f %.2f", $1, $2 + $3 }' <<< "$t"
}
loop() {  # name rows...: one `iloc invert` process per row
  local name=$1 r id flags obs k=0; shift
  for r in "$@"; do
    IFS='|' read -r id flags obs <<< "$r"; k=$((k + 1))
    # shellcheck disable=SC2086
    "$iloc" invert --model dcgan --steps "$steps" $flags --seed $k --observed "$obs" -o "$tmp/$name/$id" >/dev/null
  done
}
rate() { echo "scale=1; 16 * 60 / $1" | bc; }
line() {  # manifest variant "wall cpu" same
  local w c; read -r w c <<< "$3"
  printf "%-11s %-46s %7s %7s %11s %15s %s\n" "$1" "$2" "$w" "$c" "$(rate "$w")" "$(rate "$c")" "${4:-}"
}
same() {  # dir-of-loop batch-out rows...
  local a=$1 b=$2 r id; shift 2
  for r in "$@"; do id=${r%%|*}; cmp -s "$a/$id/result.png" "$b/rows/$id/result.png" || { echo no; return; }; done
  echo yes
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
manifest "${one[@]}" > "$tmp/one.csv"
manifest "${four[@]}" > "$tmp/four.csv"
export ILOC_CACHE_DIR=$tmp/cache-loop1;  t_loop1=$(wall loop loop1 "${one[@]}")
export ILOC_CACHE_DIR=$tmp/cache-batch1; t_batch1=$(wall "$iloc" batch --manifest "$tmp/one.csv" -o "$tmp/b1" --model dcgan --steps "$steps")
export ILOC_CACHE_DIR=$tmp/cache-art
t_compile=$(wall "$iloc" compile --model dcgan --task inpaint --mask box:20,16,24,32 --steps "$steps" -o "$tmp/art")
export ILOC_CACHE_DIR=$tmp/cache-aot;    t_art=$(wall "$iloc" batch --manifest "$tmp/one.csv" -o "$tmp/b2" --artifact "$tmp/art")
export ILOC_CACHE_DIR=$tmp/cache-loop4;  t_loop4=$(wall loop loop4 "${four[@]}")
export ILOC_CACHE_DIR=$tmp/cache-batch4; t_batch4=$(wall "$iloc" batch --manifest "$tmp/four.csv" -o "$tmp/b4" --model dcgan --steps "$steps")

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no); steps $steps"
printf "%-11s %-46s %7s %7s %11s %15s %s\n" manifest variant "wall s" "CPU s" "images/min" "images/CPU-min" \
  "same result.png as the loop"
line "one setup" "shell loop of iloc invert (16 processes)" "$t_loop1"
line "one setup" "iloc batch" "$t_batch1" "$(same "$tmp/loop1" "$tmp/b1" "${one[@]}")"
line "one setup" "iloc batch --artifact (compile once: ${t_compile%% *} s)" "$t_art" \
  "$(same "$tmp/loop1" "$tmp/b2" "${one[@]}")"
line "four tasks" "shell loop of iloc invert (16 processes)" "$t_loop4"
line "four tasks" "iloc batch" "$t_batch4" "$(same "$tmp/loop4" "$tmp/b4" "${four[@]}")"
echo "load average before and after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the cores)"
