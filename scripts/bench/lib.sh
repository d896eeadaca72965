# Shared by the compare_*.sh scripts: the host's CPU and vector ISA, and a runner that records
# each process's `result:` line with its peak RSS (from /usr/bin/time -v).

# CPUINFO overrides /proc/cpuinfo (to check the AVX2-only path on an AVX-512 host:
#   printf 'model name\t: X\nflags\t\t: avx avx2 fma\n' > /tmp/c; CPUINFO=/tmp/c bash -c 'source lib.sh; cpu_isa')

# The CPU model name.
cpu_model() { grep -m1 'model name' "${CPUINFO:-/proc/cpuinfo}" | cut -d: -f2 | sed 's/^ *//'; }

# Whether the CPU has AVX-512 Foundation (OpenBLAS's SkylakeX kernels need it; elsewhere they
# die with SIGILL).
has_avx512f() { has_flag avx512f; }

# Whether the CPU's flags line names flag $1.
has_flag() { grep -m1 '^flags' "${CPUINFO:-/proc/cpuinfo}" | grep -qw "$1"; }

# The widest vector ISA the CPU offers, as a table cell: AVX-512, AVX2+FMA, AVX or SSE.
cpu_isa() {
  if has_avx512f; then echo "AVX-512"
  elif has_flag avx2 && has_flag fma; then echo "AVX2+FMA"
  elif has_flag avx; then echo "AVX"
  else echo "SSE"; fi
}

# run LABEL COMMAND...: runs under /usr/bin/time -v; appends "label=... <result: fields> rss_kb=..."
# to $RESULTS and echoes the interesting lines to stderr. Needs $OUT and $RESULTS. With
# RUN_TIMEOUT=SECONDS a process running longer is killed; a failed process's row is left out and
# its label listed in $OUT/failed.txt.
run() {
  local label=$1; shift
  local log=$OUT/$label.$(date +%s%N).log
  local limit=()
  if [ -n "${RUN_TIMEOUT:-}" ]; then limit=(timeout --signal=KILL "$RUN_TIMEOUT"); fi
  echo ">>> [$label] $*" >&2
  if ! /usr/bin/time -v "${limit[@]}" "$@" > "$log" 2>&1; then
    # a failed or killed process leaves its row out; the table says which rows are missing
    echo "!!! [$label] failed, log: $log" >&2; tail -20 "$log" >&2; echo "$label" >> "$OUT/failed.txt"; return 0
  fi
  grep -E '^(jit|interp|        nominal|pytorch|image|loss|memory|  output image)' "$log" | sed 's/^/    /' >&2
  local res rss
  res=$(grep '^result:' "$log" | tail -1 | sed 's/^result: //')
  rss=$(grep 'Maximum resident set size' "$log" | awk '{print $NF}')
  echo "label=$label $res rss_kb=$rss" >> "$RESULTS"
}

# bench_setup: the common start of the compare scripts. Checks $ILOC and /usr/bin/time, makes
# $OUT and $RESULTS, exports $THREADS as ILOC_THREADS and OMP_NUM_THREADS, and sets HOST (the
# CPU model and its ISA) and AVX512 (1 when OpenBLAS's SkylakeX kernels can run, else 0).
bench_setup() {
  [ -x "$ILOC" ] || { echo "no iloc binary at $ILOC (swift build -c release --scratch-path .build-bench-rel --product iloc, or set ILOC)" >&2; exit 1; }
  [ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install -y time)" >&2; exit 1; }
  OUT=$(mktemp -d)
  RESULTS=$OUT/results.txt
  : > "$RESULTS"
  export ILOC_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
  HOST="$(cpu_model) ($(cpu_isa))"
  AVX512=$(has_avx512f && echo 1 || echo 0)
  restrict_isa
}

# restrict_isa: with ISA=avx2, every engine of the run is held to AVX2+FMA on a CPU that has
# more: iloc generates x86-64-v3 code (ILOC_TARGET), PyTorch's ATen kernels, torch.compile's
# generated C++ (ATEN_CPU_CAPABILITY), oneDNN's convolutions (ONEDNN_MAX_CPU_ISA) and MKL
# (MKL_ENABLE_INSTRUCTIONS) use AVX2, and OpenBLAS its Haswell kernels (OPENBLAS_CORETYPE). The
# rows then name the ISA as restricted: a stand-in for, not a measurement of, an AVX2-only CPU.
restrict_isa() {
  case "${ISA:-}" in
    "") ;;
    avx2)
      has_flag avx2 && has_flag fma || { echo "ISA=avx2: this CPU lacks AVX2 or FMA" >&2; exit 1; }
      export ILOC_TARGET=x86-64-v3 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
      export OPENBLAS_CORETYPE=Haswell
      HOST="$(cpu_model) (restricted to AVX2+FMA by ISA=avx2; the CPU has $(cpu_isa))"
      AVX512=0 ;;
    *) echo "ISA=$ISA: only ISA=avx2 is known" >&2; exit 1 ;;
  esac
}
