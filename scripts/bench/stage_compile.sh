#!/usr/bin/env bash
# Stage-program build times of ILO (StyleGAN2, channel multiplier 2, random weights,
# inpainting): cold (empty kernel cache, new JIT), warm (every object from the cache, new JIT)
# and reused (same JIT), per round, on 1 and 2 compile threads, in one process per size.
#
#   bash scripts/bench/stage_compile.sh                      # sizes 64 256 1024, rounds 0,1,2
#   SIZES="256" ROUNDS=0,1 THREADS=1,2 bash scripts/bench/stage_compile.sh
#   BASE=/tmp/iloc-old bash scripts/bench/stage_compile.sh   # also: an older iloc vs this one
#
# With BASE (an iloc binary without `bench-compile`, e.g. built from an older commit), each
# size also runs `iloc invert` (one step per round, ILOC_DEBUG=1) with BASE and with ILOC on
# the same random checkpoint and observation, twice each (cold: empty cache; warm: a second
# process on that cache), and prints each round's program build time from both. Needs a release build (swift build -c release --product iloc).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ILOC=${ILOC:-$ROOT/.build/release/iloc}
SIZES=${SIZES:-"64 256 1024"}
ROUNDS=${ROUNDS:-0,1,2}
THREADS=${THREADS:-1,2}
BASE=${BASE:-}
BENCH=${BENCH:-1}  # 0: only the BASE comparison
[ -x "$ILOC" ] || { echo "no iloc binary at $ILOC (swift build -c release --product iloc, or set ILOC)" >&2; exit 1; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo)
isa=$(for f in avx512f avx2 fma; do [[ " $flags " == *" $f "* ]] && printf '%s ' "$f"; done)
echo "host: $cpu, $(nproc) cores, ISA: ${isa:-none of avx512f/avx2/fma}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

for s in $SIZES; do
  [ "$BENCH" = 1 ] || break
  echo "== size $s"
  "$ILOC" bench-compile --size "$s" --rounds "$ROUNDS" --threads "$THREADS"
done

[ -n "$BASE" ] || exit 0
[ -x "$BASE" ] || { echo "BASE=$BASE is not an executable" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# `iloc invert` builds rounds 0..n-1; one step each.
steps=$(seq 0 "$(echo "$ROUNDS" | tr ',' '\n' | sort -n | tail -1)" | awk '{printf "%s1", (NR > 1 ? "," : "")}')
for s in $SIZES; do
  "$ILOC" bench-compile --size "$s" --save-model "$WORK/g$s.safetensors" > /dev/null
  ILOC_CACHE_DIR="$WORK/sample-cache" "$ILOC" sample --model "$WORK/g$s.safetensors" --seed 3 -o "$WORK/obs$s.png" > /dev/null
  for bin in "$BASE" "$ILOC"; do
    rm -rf "$WORK/cache"
    for pass in cold warm; do  # warm: a second process on the cache the first one filled
      ILOC_DEBUG=1 ILOC_CACHE_DIR="$WORK/cache" "$bin" invert --model "$WORK/g$s.safetensors" \
        --observed "$WORK/obs$s.png" --task inpaint --mask "box:$((s / 4)),$((s / 4)),$((s / 2)),$((s / 2))" \
        --steps "$steps" -o "$WORK/out" > "$WORK/log" 2>&1 || { echo "$bin invert failed:"; tail -3 "$WORK/log"; continue; }
      grep -o 'program ilo.round[0-9]*[.a-z]*: [0-9]* nodes.*compile [0-9.]* ms ([0-9]* cache hits, [0-9]* misses)' "$WORK/log" \
        | sed -E "s|^program (ilo.round[0-9]+)[.a-z]*: .* -> ([0-9]+) kernels.*compile ([0-9.]+) ms \(([0-9]+) cache hits, ([0-9]+) misses\)|size $s \1 $pass $bin: \2 kernel steps, program build \3 ms, \4 hits, \5 misses|" || true
    done
  done
done
