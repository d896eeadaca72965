#!/usr/bin/env bash
# The sweeps that chose issue 12's defaults (docs/quality.md): ILO with each variant of flags
# (VARIANTS, one "name|flags" per line) on the evaluation faces (FACES, default the eight lfw
# faces), for each task (TASKS) and model (MODELS, default dcgan), with iloc's default step counts
# (or ILO_STEPS). One table row per variant (tasks_table.sh's columns; the name is in the method
# column). Release build; LPIPS(squeeze) when ../shared/weights/ is present.
#
#   VARIANTS=$'none|--validation 0\nval0.1|--validation 0.1' TASKS=superres scripts/bench/quality_sweep.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export FACES=${FACES:-$(ls models/samples/lfw/lfw0*.png | tr '\n' ' ')}
export MODELS=${MODELS:-dcgan} TASKS=${TASKS:-superres} ILO_STEPS=${ILO_STEPS-} METHODS=ilo STRIPS=0
header=1
while IFS='|' read -r name flags; do
  [ -z "$name" ] && continue
  ILO_FLAGS="$flags" scripts/bench/tasks_table.sh | { if [ $header = 1 ]; then cat; else tail -n +3; fi; } \
    | sed "s/| ilo |/| ilo: $name |/"
  header=0
done <<<"${VARIANTS:-none|--validation 0}"
