#!/usr/bin/env bash
# Runs the model suite and the benchmark on webgpu on a GPU machine, from the folder that
# tools/device/pack-webgpu.sh made (carried as .cache/webgpu-gpu): unpacks Node and Dawn into
# /tmp, brings the Vulkan loader when the machine has none, finds the NVIDIA Vulkan driver, runs
# webgpu-suite.mjs and writes its JSON report under $OUT (or .cache/webgpu-gpu/out).
#   bash .cache/webgpu-gpu/webgpu-gpu-run.sh [suite options, e.g. --models 'vit|mixer']
set -euo pipefail
pack="$(cd "$(dirname "$0")" && pwd)"
work=/tmp/mlzoo-webgpu
out="${OUT:-$pack/out}"
mkdir -p "$work/node_modules/webgpu/dist/linux-x64" "$out"
xz -dc "$pack/node.xz" >"$work/node"
chmod +x "$work/node"
xz -dc "$pack/dawn.node.xz" >"$work/node_modules/webgpu/dist/linux-x64/dawn.node"
cp "$pack/webgpu-index.js" "$work/node_modules/webgpu/index.js"
cp "$pack/webgpu-package.json" "$work/node_modules/webgpu/package.json"
cp "$pack/webgpu-suite.mjs" "$work/"

has_loader() {
  ldconfig -p | grep -q 'libvulkan.so.1 ' && return 0
  local dir
  for dir in ${LD_LIBRARY_PATH//:/ }; do [ -f "$dir/libvulkan.so.1" ] && return 0; done
  return 1
}
if ! has_loader; then
  echo "webgpu-gpu-run: no Vulkan loader on this machine; unpacking libvulkan1"
  dpkg -x "$pack"/libvulkan1_*.deb /
  ldconfig
fi
# the NVIDIA driver's Vulkan ICD, where the machine's driver installation put it
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_DRIVER_FILES="$icd"
      break
    fi
  done
fi
echo "webgpu-gpu-run: node $("$work/node" --version), VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
cd "$work"
status=0
"$work/node" webgpu-suite.mjs --out "$out/webgpu-gpu.json" "$@" 2>&1 | grep -v 'artificially reduced' |
  tee "$out/webgpu-gpu.log" || status=$?
# the suite's exit status, not grep's or tee's
status=${PIPESTATUS[0]}
exit "$status"
