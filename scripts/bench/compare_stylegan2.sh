#!/usr/bin/env bash
# iloc vs PyTorch on one StyleGAN2 step (full synthesis from w+, loss sum(image*R), gradient
# w.r.t. w+), side by side in one run, interleaved.
#
#   bash scripts/bench/compare_stylegan2.sh 64            # or 256, 1024
#   ROUNDS=3 RUNS=10 THREADS=2 INTERP=1 COMPILE=1 WEIGHT_FORM=1 bash scripts/bench/compare_stylegan2.sh 64
#   ISA=avx2 bash scripts/bench/compare_stylegan2.sh 256   # every engine held to AVX2 (lib.sh)
#
# Each round runs `iloc bench stylegan2-SIZE` (release build; it measures the OpenBLAS sgemm
# peak in the same process) and then the PyTorch script eagerly; ms/step is the median over the
# rounds of each process's median. Once per run (in round 1): the iloc interpreter (INTERP=1,
# default only at size 64: it takes minutes) and torch.compile (COMPILE=1; its first call, which
# compiles, is reported). PyTorch eager also runs with the reference port's per-sample-weight
# modulated convolution (WEIGHT_FORM=1, every round: the network as written, which is what
# iloc's model is too; iloc's compiler rewrites it, PyTorch eager runs it as written). Peak memory is the max RSS from /usr/bin/time -v.
# PyTorch runs with OMP_WAIT_POLICY=PASSIVE (on a shared, loaded machine its default spinning
# OpenMP threads lose up to 6x); each round also runs eager with the default policy, and the
# iloc-vs-PyTorch ratio uses the faster of the two.
# iloc runs twice per round on an AVX-512 host (once with ISA=avx2): as is, and with OPENBLAS_CORETYPE=SkylakeX (OpenBLAS
# 0.3.21 does not know AMD Zen 5 and falls back to its AVX2 Haswell kernels; the variable selects
# AVX-512 ones). On a host without avx512f (checked in /proc/cpuinfo) that variable makes OpenBLAS
# die with SIGILL, so iloc runs once, as is. Every row names the CPU model and its vector ISA.
# Peak RSS: /usr/bin/time -v's maximum RSS of each process (iloc's own VmHWM line agrees).
# GFLOP/s use the nominal (direct-form) FLOP count, the same for every engine; the fraction of
# peak divides by the sgemm peak measured in the same round.
set -euo pipefail
SIZE=${1:?usage: compare_stylegan2.sh SIZE (64, 256 or 1024)}
ROUNDS=${ROUNDS:-$([ "$SIZE" -ge 1024 ] && echo 1 || echo 3)}
RUNS=${RUNS:-$([ "$SIZE" -ge 1024 ] && echo 3 || ([ "$SIZE" -ge 256 ] && echo 5 || echo 10))}
THREADS=${THREADS:-2}
INTERP=${INTERP:-$([ "$SIZE" -le 64 ] && echo 1 || echo 0)}
COMPILE=${COMPILE:-1}
WEIGHT_FORM=${WEIGHT_FORM:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ILOC=${ILOC:-$ROOT/.build-bench-rel/release/iloc}
PY=${PYTHON:-python3}
TORCH_SCRIPT=$ROOT/scripts/bench/pytorch_stylegan2_bench.py
# shellcheck source=lib.sh
source "$ROOT/scripts/bench/lib.sh"
bench_setup

echo "machine: $(nproc) cores, $HOST; OPENBLAS_CORETYPE=SkylakeX rows: $([ "$AVX512" = 1 ] && echo yes || echo "no (${ISA:+ISA=$ISA, }no avx512f in use)")" | tee "$OUT/header.txt"
echo "load before: $(uptime)" | tee -a "$OUT/header.txt"
for r in $(seq 1 "$ROUNDS"); do
  interp_runs=0
  if [ "$r" = 1 ] && [ "$INTERP" = 1 ]; then interp_runs=1; fi
  run iloc-jit "$ILOC" bench "stylegan2-$SIZE" --runs "$RUNS" --interp-runs "$interp_runs"
  if [ "$AVX512" = 1 ]; then
    run iloc-jit-avx512 env OPENBLAS_CORETYPE=SkylakeX "$ILOC" bench "stylegan2-$SIZE" --runs "$RUNS" --interp-runs 0
  fi
  run torch-eager env OMP_WAIT_POLICY=PASSIVE "$PY" "$TORCH_SCRIPT" --size "$SIZE" --threads "$THREADS" --steps "$RUNS"
  run torch-eager-spin "$PY" "$TORCH_SCRIPT" --size "$SIZE" --threads "$THREADS" --steps "$RUNS"
  if [ "$WEIGHT_FORM" = 1 ]; then
    run torch-eager-weightform env OMP_WAIT_POLICY=PASSIVE "$PY" "$TORCH_SCRIPT" --size "$SIZE" --threads "$THREADS" --steps "$RUNS" --modconv weight
    run torch-eager-weightform-spin "$PY" "$TORCH_SCRIPT" --size "$SIZE" --threads "$THREADS" --steps "$RUNS" --modconv weight
  fi
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
jit = [r for r in rows if r["label"] == "iloc-jit"]
jit512 = [r for r in rows if r["label"] == "iloc-jit-avx512"]
peak_default = med(float(r["peak_gflops"]) for r in jit)
peak = med(float(r["peak_gflops"]) for r in jit512) if jit512 else peak_default
nominal = float(jit[0]["nominal_gflop"])
jit_ms = min(med(float(r["jit_ms_median"]) for r in rs) for rs in (jit, jit512) if rs)
cmd = {
    "iloc-jit": f"iloc bench stylegan2-{size} --runs {runs}",
    "iloc-jit-avx512": f"OPENBLAS_CORETYPE=SkylakeX iloc bench stylegan2-{size} --runs {runs}",
    "iloc-interp": f"iloc bench stylegan2-{size} --interp-runs 1",
    "torch-eager": f"OMP_WAIT_POLICY=PASSIVE pytorch_stylegan2_bench.py --size {size} --threads {threads}",
    "torch-eager-spin": f"pytorch_stylegan2_bench.py --size {size} --threads {threads}",
    "torch-eager-weightform": f"OMP_WAIT_POLICY=PASSIVE pytorch_stylegan2_bench.py --size {size} --modconv weight",
    "torch-eager-weightform-spin": f"pytorch_stylegan2_bench.py --size {size} --modconv weight",
    "torch-compile": f"OMP_WAIT_POLICY=PASSIVE pytorch_stylegan2_bench.py --size {size} --compile",
}
print(f"\nStyleGAN2-{size} step (fwd + bwd w.r.t. w+), {threads} threads, {rounds} rounds; "
      f"sgemm peak (median over rounds, measured by iloc in each round): {peak:.1f} GFLOP/s "
      f"{'with OPENBLAS_CORETYPE=SkylakeX ' if jit512 else ''}(the % column), {peak_default:.1f} GFLOP/s with OpenBLAS's default choice; "
      f"nominal {nominal:.2f} GFLOP/step (iloc's graph count)")
print("| host (ISA) | command | engine | ms/step (median) | best ms | samples | GFLOP/s (nominal) | % of sgemm peak | peak RSS (MB) | notes |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
def line(label, engine, ms_list, best_list, rss_list, note=""):
    ms = med(ms_list)
    print(f"| {host} | `{cmd[label]}` | {engine} | {ms:.1f} | {min(best_list):.1f} | {len(ms_list)} | {nominal / ms * 1e3:.1f} | "
          f"{100 * nominal / ms * 1e3 / peak:.0f}% | {med(rss_list):.0f} | {note} |")
for label, rs, pk in [("iloc-jit", jit, peak_default), ("iloc-jit-avx512", jit512, peak)]:
    if not rs:
        continue
    ms = med(float(r["jit_ms_median"]) for r in rs)
    line(label, "iloc jit" + (" (AVX-512 OpenBLAS)" if label.endswith("avx512") else " (default OpenBLAS)"),
         [float(r["jit_ms_median"]) for r in rs], [float(r["jit_ms_best"]) for r in rs], [int(r["rss_kb"]) / 1024 for r in rs],
         f"executed {float(rs[0]['executed_gflop']):.1f} GFLOP/step (Winograd): {100 * float(rs[0]['executed_gflop']) / ms * 1e3 / pk:.0f}% of "
         f"this row's own sgemm peak {pk:.0f}; compile {med(float(r['compile_ms']) for r in rs):.0f} ms")
interp = [float(r["interp_ms"]) for r in jit if float(r["interp_ms"]) > 0]
if interp:
    r0 = next(r for r in jit if float(r["interp_ms"]) > 0)
    print(f"| {host} | `{cmd['iloc-interp']}` | iloc interpreter | {interp[0]:.0f} | {interp[0]:.0f} | 1 | {nominal / interp[0] * 1e3:.2f} | "
          f"{100 * nominal / interp[0] * 1e3 / peak:.1f}% | (same process) | jit speedup {interp[0] / float(r0['jit_ms_median']):.1f}x (same process) |")
for label, engine in [("torch-eager", "PyTorch eager"), ("torch-eager-spin", "PyTorch eager, default OMP (spinning)"), ("torch-eager-weightform", "PyTorch eager, weight-form modconv (as written)"),
                      ("torch-eager-weightform-spin", "PyTorch eager, weight-form modconv, default OMP (spinning)"),
                      ("torch-compile", "PyTorch torch.compile")]:
    rs = [r for r in rows if r["label"] == label]
    if not rs:
        continue
    note = f"FlopCounter {float(rs[0]['gflop']):.2f} GFLOP/step"
    if label == "torch-compile":
        note += f"; first call (compiles) {float(rs[0]['first_call_s']):.1f} s"
    line(label, engine, [float(r["ms_median"]) for r in rs], [float(r["ms_best"]) for r in rs], [int(r["rss_kb"]) / 1024 for r in rs], note)
jit_default = med(float(r["jit_ms_median"]) for r in jit)
eager = {l: med(float(r["ms_median"]) for r in rows if r["label"] == l) for l in ("torch-eager", "torch-eager-spin")
         if any(r["label"] == l for r in rows)}
reference = {l: med(float(r["ms_median"]) for r in rows if r["label"] == l) for l in ("torch-eager-weightform", "torch-eager-weightform-spin")
             if any(r["label"] == l for r in rows)}
if reference:
    ref = min(reference.values())
    print(f"\nvs the network as written (the golden-fixture script's per-sample-weight modulated conv, which iloc's "
          f"model also uses; iloc's passes rewrite it), faster OMP setting: PyTorch eager {ref:.1f} ms, iloc jit {jit_default:.1f} ms with the "
          f"default OpenBLAS: {ref / jit_default:.2f}x faster")
if eager:
    best = min(eager.values())
    print(f"vs PyTorch hand-rewritten into the input-scaling form (faster OMP setting) {best:.1f} ms: iloc default OpenBLAS "
          f"{best / jit_default:.2f}x, faster OpenBLAS setting {jit_ms:.1f} ms {best / jit_ms:.2f}x")
compiled = [float(r["ms_median"]) for r in rows if r["label"] == "torch-compile"]
if compiled:
    print(f"vs torch.compile {med(compiled):.1f} ms: iloc default OpenBLAS {med(compiled) / jit_default:.2f}x, "
          f"faster OpenBLAS setting {med(compiled) / jit_ms:.2f}x")
print(f"host: {host}")
EOF
cat "$OUT/header.txt"
[ -s "$OUT/failed.txt" ] && echo "left out (failed or killed after RUN_TIMEOUT): $(tr '\n' ' ' < "$OUT/failed.txt")"
echo "(raw logs in $OUT)"
