#!/usr/bin/env bash
# Submits an `iloc batch` array (one task per shard) and a report job that runs when every
# task has ended (afterany: failed or cancelled tasks still get a report of what is pending).
#   deploy/slurm/submit.sh MANIFEST OUT SHARDS [iloc batch flags...]
#   deploy/slurm/submit.sh rows.csv /shared/out 16 --model dcgan --steps 50,50,25,25
# Environment: ILOC (the iloc binary, default: iloc on PATH), CPUS (per task, default 2).
# Prints the two job ids.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 MANIFEST OUT SHARDS [iloc batch flags...]" >&2; exit 2; fi
here="$(cd "$(dirname "$0")" && pwd)"
export MANIFEST="$(realpath "$1")" OUT="$(realpath -m "$2")" SHARDS="$3"
shift 3
export ILOC_FLAGS="$*" ILOC="${ILOC:-iloc}"
array=$(sbatch --parsable --export=ALL --array=0-$((SHARDS - 1)) --cpus-per-task="${CPUS:-2}" \
  "$here/iloc-batch.sbatch")
report=$(sbatch --parsable --export=ALL --dependency=afterany:"${array%%;*}" "$here/iloc-report.sbatch")
echo "$array $report"
