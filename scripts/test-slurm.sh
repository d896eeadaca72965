#!/usr/bin/env bash
# `iloc batch` on a real Slurm cluster: a single-node cluster on localhost (munged, slurmctld,
# slurmd with a generated slurm.conf in a temporary directory) runs deploy/slurm/ over an
# 8-row manifest made from the shipped face with every task. One array task is cancelled
# midway (scancel), the array is resubmitted, and then: every row done exactly once by the
# shard that owns it, no partial row folder, each result.png byte-identical to `iloc invert`
# run alone with the same flags and seed, and the dependent report job's summary.
# Needs root (it installs slurmctld slurmd slurm-client munge when missing); skips otherwise.
# Every daemon it started is stopped on exit, failure included.
set -euo pipefail
cd "$(dirname "$0")/.."
ILOC="$(realpath "${ILOC:-.build/debug/iloc}")"
if [ "$(id -u)" != 0 ]; then echo "test-slurm: skipped (needs root to start a Slurm cluster)"; exit 0; fi
if [ ! -x "$ILOC" ]; then echo "test-slurm: skipped ($ILOC is not built)"; exit 0; fi
if [ ! -f models/cache/gan_face_generate/weights.tar ]; then
  echo "test-slurm: skipped (DCGAN weights not fetched: bash models/fetch.sh)"; exit 0
fi
need=()
for p in slurmctld slurmd slurm-client munge; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "test-slurm: installing ${need[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           "${need[@]}" >/dev/null; }; then
    echo "test-slurm: skipped (cannot install ${need[*]})"; exit 0
  fi
fi

tmp="$(mktemp -d /tmp/iloc-slurm.XXXXXX)"
chmod 755 "$tmp"
pids=()
cleanup() {
  local status=$?
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root >/dev/null 2>&1 || true
  for f in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  for f in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munge/munged.pid"; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  if [ $status -ne 0 ]; then
    echo "test-slurm: FAILED; logs:"; tail -n 20 "$tmp"/*.log "$tmp"/munge/*.log "$tmp"/out/*.out 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit $status
}
trap cleanup EXIT
fail() { echo "test-slurm: FAIL: $*"; exit 1; }

# munge: a key of our own and a socket in the temporary directory
mkdir -p "$tmp/munge"
chown munge:munge "$tmp/munge"; chmod 700 "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$tmp/munge/munge.key"; chmod 400 "$tmp/munge/munge.key"
mkdir -p /run/munge; chown munge:munge /run/munge
runuser -u munge -- munged --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" --seed-file="$tmp/munge/seed" --force
host="$(hostname -s)"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=iloctest
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=30
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/out"
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %T | grep -q idle || fail "the node did not come up"
echo "test-slurm: cluster up ($(sinfo -h -o '%P %D %T %c'))"

# The manifest: every task on the shipped face (f-1..f-8; shards 0: f-1,3,5,7 and 1: f-2,4,6,8).
face="$PWD/models/samples/face64.png"
"$ILOC" degrade --task superres --factor 2 --input "$face" -o "$tmp/small.png" >/dev/null
cat > "$tmp/rows.csv" <<CSV
id,observed,task,mask,factor,sigma,measurements,operator_seed,ground_truth,seed
f-1,$face,inpaint,"box:20,16,24,32",,,,,$face,5
f-2,$face,cs-circulant,,,,0.1,2,$face,
f-3,$face,inpaint,"box:20,16,24,32",,,,,$face,11
f-4,$face,cs-gaussian,,,,300,1,$face,
f-5,$tmp/small.png,superres,,2,,,,$face,
f-6,$face,colorize,,,,,,$face,
f-7,$face,denoise,,,0.1,,3,$face,8
f-8,$face,inpaint,random:0.5,,,,3,$face,
CSV
flags="--model dcgan --steps 3,2 --seed 4"
out="$tmp/out/batch"
repo="$PWD"
submit() {
  # shellcheck disable=SC2086
  (cd "$tmp/out" && ILOC="$ILOC" CPUS=1 "$repo/deploy/slurm/submit.sh" "$tmp/rows.csv" "$out" 2 $flags)
}

read -r array report <<< "$(submit)"
echo "test-slurm: submitted array $array, report $report"
# cancel task 1 once it has finished a row
for _ in $(seq 600); do
  grep -qs '"shard" : "1/2"' "$out"/rows/*/row.json && break
  sleep 0.5
done
grep -qs '"shard" : "1/2"' "$out"/rows/*/row.json || fail "array task 1 finished no row"
scancel "${array}_1"
echo "test-slurm: cancelled ${array}_1"
for _ in $(seq 600); do [ -z "$(squeue -h -j "$array,$report" 2>/dev/null)" ] && break; sleep 1; done
[ -z "$(squeue -h -j "$array,$report")" ] || fail "the first array did not end"
summary="$out/shards/1-of-2.json"
grep -q '"interrupted" : true' "$summary" || fail "task 1 was not stopped midway: $(cat "$summary" 2>/dev/null)"
pending=$(sed -n 's/.*"pending" : \([0-9]*\).*/\1/p' "$summary")
[ "${pending:-0}" -gt 0 ] || fail "task 1 had no rows left when cancelled"

read -r array report <<< "$(submit)"
echo "test-slurm: resubmitted: array $array, report $report"
for _ in $(seq 900); do [ -z "$(squeue -h -j "$array,$report" 2>/dev/null)" ] && break; sleep 1; done
[ -z "$(squeue -h -j "$array,$report")" ] || fail "the resubmitted array did not end"

# every row done exactly once, by its shard; no partial row folders; no staging left
[ "$(ls "$out/rows" | sort | tr '\n' ' ')" = "f-1 f-2 f-3 f-4 f-5 f-6 f-7 f-8 " ] \
  || fail "row folders: $(ls -a "$out/rows")"
for id in f-1 f-2 f-3 f-4 f-5 f-6 f-7 f-8; do
  d="$out/rows/$id"
  [ "$(ls -A "$d" | sort | tr '\n' ' ')" = "report.json result.png row.json state.safetensors strip.png " ] \
    || fail "$id: $(ls -A "$d")"
  grep -q '"status" : "done"' "$d/row.json" || fail "$id not done"
  n=${id#f-}; want=$(( (n + 1) % 2 ))  # f-1,3,5,7 -> shard 0
  grep -q "\"shard\" : \"$want/2\"" "$d/row.json" || fail "$id was run by another shard: $(cat "$d/row.json")"
done
grep -q "already done, skipped" "$tmp"/out/iloc-batch-*_1.out || fail "the resubmitted task 1 redid done rows"
# each result equals `iloc invert` alone with the same flags and seed (the rows' flags again)
declare -A row=(
  [f-1]="--task inpaint --mask box:20,16,24,32 --seed 5"
  [f-2]="--task cs-circulant --measurements 0.1 --operator-seed 2"
  [f-3]="--task inpaint --mask box:20,16,24,32 --seed 11"
  [f-4]="--task cs-gaussian --measurements 300 --operator-seed 1"
  [f-5]="--task superres --factor 2"
  [f-6]="--task colorize"
  [f-7]="--task denoise --sigma 0.1 --operator-seed 3 --seed 8"
  [f-8]="--task inpaint --mask random:0.5 --operator-seed 3"
)
for id in "${!row[@]}"; do
  observed="$face"; [ "$id" = f-5 ] && observed="$tmp/small.png"
  # shellcheck disable=SC2086
  "$ILOC" invert $flags ${row[$id]} --observed "$observed" --ground-truth "$face" -o "$tmp/alone/$id" >/dev/null
  cmp -s "$tmp/alone/$id/result.png" "$out/rows/$id/result.png" || fail "$id: batch result differs from iloc invert"
done
[ -f "$out/summary.csv" ] || fail "the report job wrote no summary.csv"
grep -q "8 rows: 8 done, 0 failed, 0 pending" "$out/summary.md" || fail "summary: $(head -3 "$out/summary.md")"
echo "test-slurm: passed (8 rows, every task; one array task cancelled and resubmitted; results equal iloc invert)"
