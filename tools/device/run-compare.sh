#!/usr/bin/env bash
# On the device machine (python3 + torch, no node, no network): unpacks the node of a pack made by
# tools/device/pack-compare.sh and runs tools/device/run_compare.py, which trains every mlzoo and
# PyTorch model of the comparison and the AdamW-vs-SAM pairs as single-threaded processes, one per core.
#
#   bash tools/device/run-compare.sh [PACK (default .device-pack)] [RESULTS (default /tmp/mlzoo-compare)]
#
# Settings come from the environment (MODELS, SEEDS, TRAIN_IMAGES, EPOCHS, ... : see run_compare.py).
# RESULTS gets results.jsonl (one JSON line per finished job), logs/, settings.json, machine.txt and
# DONE when every job has finished. Start it with setsid nohup to outlive the calling shell.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pack="$(cd "${1:-$root/.device-pack}" && pwd)"
results="${2:-/tmp/mlzoo-compare}"
mkdir -p "$results"
node="$results/node"
if [ ! -x "$node" ]; then
  python3 -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.open(sys.argv[1]).read())' "$pack/node.xz" "$node"
  chmod +x "$node"
fi
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
  echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2 / 1048576 " GiB"}')"
  echo "node: $("$node" --version)"
  echo "python: $("${PYTHON:-python3}" --version 2>&1), torch $("${PYTHON:-python3}" -c 'import torch; print(torch.__version__)')"
  echo "loadavg at start: $(cat /proc/loadavg)"
} >"$results/machine.txt"
exec "${PYTHON:-python3}" "$root/tools/device/run_compare.py" "$pack" "$results" "$node"
