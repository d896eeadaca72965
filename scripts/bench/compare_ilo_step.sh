#!/usr/bin/env bash
# iloc vs PyTorch on one round-0 ILO step (StyleGAN2 cm 2 from z, inpainting, MSE + LPIPS-VGG16
# at 256 + GeoCross, gradient w.r.t. z and noises 0-4), side by side in one run.
#
#   bash scripts/bench/compare_ilo_step.sh 256            # or 1024
#   ROUNDS=2 RUNS=5 THREADS=2 COMPILE=1 bash scripts/bench/compare_ilo_step.sh 256
#   ISA=avx2 bash scripts/bench/compare_ilo_step.sh 256   # every engine held to AVX2 (lib.sh)
#
# Each round runs `iloc bench ilo-step-SIZE` (release build) and PyTorch eager
# (scripts/bench/pytorch_ilo_step_bench.py, OMP_WAIT_POLICY=PASSIVE); torch.compile runs once, in
# round 1 (COMPILE=1; its first call, which compiles, is reported separately; COMPILE=0 skips
# it where it takes too long). ms/step is the median over the rounds of each process's median.
# Peak RSS: /usr/bin/time -v's maximum RSS of each process; each process also reports its own
# VmHWM after its timed steps (iloc: before any interpreter run, which is skipped here).
# Every row names the host's CPU and vector ISA; on an AVX-512 host iloc also runs with
# OPENBLAS_CORETYPE=SkylakeX (never elsewhere: it dies with SIGILL without avx512f).
set -euo pipefail
SIZE=${1:?usage: compare_ilo_step.sh SIZE (256 or 1024)}
ROUNDS=${ROUNDS:-$([ "$SIZE" -ge 1024 ] && echo 1 || echo 2)}
RUNS=${RUNS:-$([ "$SIZE" -ge 1024 ] && echo 2 || echo 5)}
THREADS=${THREADS:-2}
COMPILE=${COMPILE:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ILOC=${ILOC:-$ROOT/.build-bench-rel/release/iloc}
PY=${PYTHON:-python3}
TORCH_SCRIPT=$ROOT/scripts/bench/pytorch_ilo_step_bench.py
# shellcheck source=lib.sh
source "$ROOT/scripts/bench/lib.sh"
bench_setup

echo "machine: $(nproc) cores, $HOST" | tee "$OUT/header.txt"
echo "load before: $(uptime)" | tee -a "$OUT/header.txt"
for r in $(seq 1 "$ROUNDS"); do
  run iloc-jit "$ILOC" bench "ilo-step-$SIZE" --runs "$RUNS" --interp-runs 0
  if [ "$AVX512" = 1 ]; then
    run iloc-jit-avx512 env OPENBLAS_CORETYPE=SkylakeX "$ILOC" bench "ilo-step-$SIZE" --runs "$RUNS" --interp-runs 0
  fi
  run torch-eager env OMP_WAIT_POLICY=PASSIVE "$PY" "$TORCH_SCRIPT" --size "$SIZE" --threads "$THREADS" --steps "$RUNS"
  if [ "$r" = 1 ] && [ "$COMPILE" = 1 ]; then
    run torch-compile env OMP_WAIT_POLICY=PASSIVE "$PY" "$TORCH_SCRIPT" --size "$SIZE" --threads "$THREADS" --steps "$RUNS" --compile
  fi
done
echo "load after: $(uptime)" | tee -a "$OUT/header.txt"

"$PY" - "$RESULTS" "$SIZE" "$ROUNDS" "$RUNS" "$THREADS" "$HOST" <<'EOF'
import statistics, sys
path, size, rounds, runs, threads, host = sys.argv[1:7]
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(path) if line.strip()]
med = statistics.median
cmd = {
    "iloc-jit": f"iloc bench ilo-step-{size} --runs {runs} --interp-runs 0",
    "iloc-jit-avx512": f"OPENBLAS_CORETYPE=SkylakeX iloc bench ilo-step-{size} --runs {runs} --interp-runs 0",
    "torch-eager": f"OMP_WAIT_POLICY=PASSIVE pytorch_ilo_step_bench.py --size {size} --threads {threads} --steps {runs}",
    "torch-compile": f"OMP_WAIT_POLICY=PASSIVE pytorch_ilo_step_bench.py --size {size} --threads {threads} --steps {runs} --compile",
}
print(f"\nILO round-0 step at {size} (StyleGAN2 cm 2 + LPIPS-VGG16 at 256 + MSE + GeoCross, grad w.r.t. z and noises), "
      f"{threads} threads, {rounds} round(s)")
print("| host (ISA) | command | engine | ms/step (median) | best ms | samples | peak RSS (MB, time -v) | own VmHWM (MB) | notes |")
print("|---|---|---|---:|---:|---:|---:|---:|---|")
ms_of = {}
for label, engine in [("iloc-jit", "iloc jit (default OpenBLAS)"), ("iloc-jit-avx512", "iloc jit (AVX-512 OpenBLAS)"),
                      ("torch-eager", "PyTorch eager"), ("torch-compile", "PyTorch torch.compile")]:
    rs = [r for r in rows if r["label"] == label]
    if not rs:
        continue
    iloc = label.startswith("iloc")
    ms = [float(r["jit_ms_median" if iloc else "ms_median"]) for r in rs]
    best = [float(r["jit_ms_best" if iloc else "ms_best"]) for r in rs]
    ms_of[label] = med(ms)
    if iloc:
        note = (f"compile {med(float(r['compile_ms']) for r in rs) / 1e3:.1f} s; arena {float(rs[0]['plan_mb']):.0f} MB "
                f"+ scratch {float(rs[0]['arena_mb']) - float(rs[0]['plan_mb']):.0f} MB")
    else:
        note = f"FlopCounter {float(rs[0]['gflop']):.1f} GFLOP/step"
        if label == "torch-compile":
            note += f"; first call (compiles) {float(rs[0]['first_call_s']):.1f} s"
    print(f"| {host} | `{cmd[label]}` | {engine} | {med(ms):.1f} | {min(best):.1f} | {len(ms)} | "
          f"{med(int(r['rss_kb']) / 1024 for r in rs):.0f} | {med(float(r['rss_mb']) for r in rs):.0f} | {note} |")
jit = min(v for k, v in ms_of.items() if k.startswith("iloc"))
for label in ("torch-eager", "torch-compile"):
    if label in ms_of:
        print(f"vs {label}: {ms_of[label]:.1f} ms / iloc {jit:.1f} ms = {ms_of[label] / jit:.2f}x")
print(f"host: {host}")
EOF
cat "$OUT/header.txt"
[ -s "$OUT/failed.txt" ] && echo "left out (failed or killed after RUN_TIMEOUT): $(tr '\n' ' ' < "$OUT/failed.txt")"
echo "(raw logs in $OUT)"
