#!/usr/bin/env bash
# The long fuzz budget of iloc's readers (issue 10, item 13).
#
#   bash scripts/fuzz.sh [INPUTS]            in-process seeded mutation, every reader (default 100000 each)
#   bash scripts/fuzz.sh --libfuzzer [RUNS]  libFuzzer (coverage-guided, AddressSanitizer), every reader
#
# READERS="png state" limits the run to some readers. A crash stops the run with a non-zero
# exit: the in-process driver leaves the input under $TMPDIR/iloc-fuzz-PID/ (file readers), and
# `iloc-fuzz replay READER INDEX OUT` regenerates any input of a seeded run; libFuzzer writes
# .build/fuzz-corpus/READER-crash-* files. Add each as a seed and a regression test.
# LeakSanitizer is off: Foundation's Data(contentsOf:) leaks 4 KB reading an empty file, which
# is not a crash of ours (iloc does no manual memory management).
set -euo pipefail
cd "$(dirname "$0")/.."
readers="${READERS:-png safetensors state torch-zip legacy-pickle model-json operator artifact-manifest}"

if [[ "${1:-}" == "--libfuzzer" ]]; then
  runs="${2:-100000}"
  swift build -c release --product iloc-fuzz --build-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DILOC_LIBFUZZER -Xswiftc -use-ld=lld
  swift build -c release --product iloc-fuzz
  for r in $readers; do
    corpus=".build/fuzz-corpus/$r"
    mkdir -p "$corpus"
    .build/release/iloc-fuzz seeds "$r" "$corpus"
    log=".build/fuzz-corpus/$r.log"
    if ! ASAN_OPTIONS=detect_leaks=0 ILOC_FUZZ_READER="$r" .build/fuzz/release/iloc-fuzz "$corpus" -runs="$runs" -timeout=10 \
      -rss_limit_mb=4096 -max_len=65536 -detect_leaks=0 -artifact_prefix=".build/fuzz-corpus/$r-" \
      -print_final_stats=1 >"$log" 2>&1; then
      tail -40 "$log"
      echo "$r: libFuzzer found a problem (see $log and .build/fuzz-corpus/$r-crash-*, -timeout-*, -oom-*)"
      exit 1
    fi
    echo "$r: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') inputs, 0 crashes"
  done
else
  swift build -c release --product iloc-fuzz
  for r in $readers; do .build/release/iloc-fuzz run "$r" --inputs "${1:-100000}" --seed "${SEED:-1}"; done
fi
