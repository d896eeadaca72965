#!/usr/bin/env bash
# Start-up of `iloc run` (ahead-of-time artifact) vs `iloc invert` (JIT, cold kernel cache) on
# the default demo's inpainting setup with the shipped DCGAN. Release build; one run of each,
# in one invocation of this script. Prints wall times and the summed per-round program set-up
# (report.json compileMilliseconds: graph passes, fusion, memory plan and kernel compile/lookup).
set -euo pipefail
cd "$(dirname "$0")/.."
iloc=${ILOC:-.build/release/iloc}
face=models/samples/face64.png
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
steps=${STEPS:-100,60,40,30}
setup=(--task inpaint --operator-file "$out/op.json")

$iloc degrade --task inpaint --mask random:0.2 --operator-seed 1 --input "$face" -o "$out/y.png" --operator-out "$out/op.json" >/dev/null
wall() { local t0 t1; t0=$(date +%s.%N); "$@" >"$out/log" 2>&1 || { cat "$out/log"; exit 1; }; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
setupms() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('%.0f' % sum(x['compileMilliseconds'] for x in r['rounds']))" "$1"; }

export ILOC_CACHE_DIR="$out/cache-compile"
tc=$(wall $iloc compile --model dcgan "${setup[@]}" --steps "$steps" -o "$out/art")
export ILOC_CACHE_DIR="$out/cache-invert"   # empty: a cold kernel cache
ti=$(wall $iloc invert --model dcgan "${setup[@]}" --steps "$steps" --observed "$out/y.png" -o "$out/jit")
export ILOC_CACHE_DIR="$out/cache-run"      # empty too (iloc run never reads it)
tr=$(wall $iloc run "$out/art" "${setup[@]}" --observed "$out/y.png" -o "$out/aot")
grep "LLVM initialized" "$out/log"
cmp -s "$out/jit/result.png" "$out/aot/result.png" && same=yes || same=no
printf "%-34s %10s %22s\n" "command (steps $steps)" "wall s" "program set-up ms"
printf "%-34s %10.2f %22s\n" "iloc compile (once)" "$tc" "-"
printf "%-34s %10.2f %22s\n" "iloc invert (cold kernel cache)" "$ti" "$(setupms "$out/jit/report.json")"
printf "%-34s %10.2f %22s\n" "iloc run (artifact)" "$tr" "$(setupms "$out/aot/report.json")"
echo "result.png identical: $same; artifact: $(du -sh "$out/art" | cut -f1) ($(ls "$out/art" | tr '\n' ' '))"
