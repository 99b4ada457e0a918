#!/usr/bin/env bash
# Packs what the GPU machine needs to run the model suite and the benchmark on webgpu, into
# .cache/webgpu-gpu/ (git-ignored, < 60 MiB; the device tool carries it): a Node binary, the suite
# bundle (tools/device/webgpu-suite.ts with tfjs and mlzoo inside), the `webgpu` package's
# linux-x64 Dawn addon, and the Vulkan loader (libvulkan1) for machines that lack it. Compressed
# with xz; tools/device/webgpu-gpu-run.sh unpacks and runs it there.
#   bash tools/device/pack-webgpu.sh    (after pnpm install; run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=.cache/webgpu-gpu
mkdir -p "$pack"

# type-check the suite (tools/device/tsconfig.json maps the workspace packages to their sources)
node_modules/.bin/tsc -p tools/device/tsconfig.json
node_modules/.bin/esbuild tools/device/webgpu-suite.ts --bundle --platform=node --format=esm \
  --target=node20 --main-fields=module,main --conditions=@mlzoo/source --external:webgpu \
  --banner:js="import { createRequire as mlzooCreateRequire } from 'node:module'; const require = mlzooCreateRequire(import.meta.url);" \
  --log-level=warning --outfile="$pack/webgpu-suite.mjs"

# xz takes minutes on 2 cores: the compressed binaries are kept while their sources are not newer
compress() {
  if [ ! -s "$2" ] || [ "$1" -nt "$2" ]; then xz -T2 -6 -c "$1" >"$2.partial" && mv "$2.partial" "$2"; fi
}
compress "$(command -v node)" "$pack/node.xz"
webgpu_package=node_modules/webgpu
compress "$webgpu_package/dist/linux-x64/dawn.node" "$pack/dawn.node.xz"
cp "$webgpu_package/index.js" "$webgpu_package/package.json" "$pack/"
mv "$pack/index.js" "$pack/webgpu-index.js"
mv "$pack/package.json" "$pack/webgpu-package.json"

# the Vulkan loader: the webgpu lane's cache has it (bash .ci/webgpu-setup.sh --download-only)
bash .ci/webgpu-setup.sh --download-only >/dev/null
cp .cache/webgpu/debs/libvulkan1_*.deb "$pack/"
cp tools/device/webgpu-gpu-run.sh "$pack/"
du -sh "$pack"
ls -la "$pack"
size=$(du -sm "$pack" | cut -f1)
if [ "$size" -gt 60 ]; then
  echo "pack-webgpu: $pack is $size MiB, over the 60 MiB that may be carried" >&2
  exit 1
fi
