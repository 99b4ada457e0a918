#!/usr/bin/env bash
# Packs what the Fashion-MNIST comparisons need on a machine that has python3 + torch but no node and no
# network (the device machine): node itself (xz), an esbuild bundle of the mlzoo CLI with tfjs-core and
# the cpu and wasm backends inlined (plus the backend's .wasm files beside it), the SAM-vs-AdamW script
# bundled the same way, and a Fashion-MNIST subset in the official idx .gz format (all 10,000 test
# images, the first TRAIN_IMAGES training images).
#
#   bash tools/device/pack-compare.sh [PACK_DIR (default .device-pack)] [TRAIN_IMAGES (default 20000)]
#
# PACK_DIR is build output: keep it out of git (`echo /.device-pack/ >> .git/info/exclude`; it is a local
# artifact of the device tool, CI never makes one). Needs: the built workspace packages and CLI
# (pnpm --filter '@mlzoo/cli...' run build), xz, /usr/bin/python3, and the full Fashion-MNIST files
# in FASHION_MNIST_DIR (default /work/shared/data/fashion-mnist). tools/device/run-compare.sh uses it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pack="$(mkdir -p "${1:-$root/.device-pack}" && cd "${1:-$root/.device-pack}" && pwd)"
train_images="${2:-20000}"
data_source="${FASHION_MNIST_DIR:-/work/shared/data/fashion-mnist}"
cd "$root"
rm -rf "$pack"
mkdir -p "$pack/data"

esbuild="$(find node_modules/.pnpm -path '*/esbuild@0.25*/node_modules/esbuild/bin/esbuild' | head -n 1)"
[ -x "$esbuild" ] || { echo "pack-compare: no esbuild 0.25 under node_modules/.pnpm (run pnpm install)" >&2; exit 1; }
[ -f apps/cli/dist/cli.js ] || { echo "pack-compare: apps/cli/dist/cli.js missing (build the CLI first)" >&2; exit 1; }

# ESM output of CommonJS dependencies needs require, __dirname and __filename; the wasm backend finds its
# .wasm files through __dirname, so they sit beside the bundles.
banner="import { createRequire as __packRequire } from 'node:module'; import { fileURLToPath as __packPath } from 'node:url'; import { dirname as __packDirname } from 'node:path'; const require = __packRequire(import.meta.url); const __filename = __packPath(import.meta.url); const __dirname = __packDirname(__filename);"
# module before main: one copy of tfjs-core (the default order bundles its ESM and CJS builds twice)
common=(--bundle --platform=node --format=esm --target=node20 --main-fields=module,main --log-level=warning
  "--banner:js=$banner")
"$esbuild" apps/cli/dist/cli.js "${common[@]}" --outfile="$pack/mlzoo.mjs"
# the SAM script imports workspace sources (.ts) as the vitest run does
(cd packages/optimizers && "../../$esbuild" scripts/sam-fashion-mnist.main.ts "${common[@]}" \
  --outfile="$pack/sam-fashion-mnist.mjs")
wasm_dir="$(dirname "$(find node_modules/.pnpm -path '*@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm' | head -n 1)")"
cp "$wasm_dir"/tfjs-backend-wasm*.wasm "$pack/"

xz -T2 -6 -c "$(command -v node)" >"$pack/node.xz"

/usr/bin/python3 - "$data_source" "$pack/data" "$train_images" <<'PY'
import gzip, os, struct, sys
source, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def read(name):
    for candidate in (name + '.gz', name):
        path = os.path.join(source, candidate)
        if os.path.exists(path):
            return (gzip.open if path.endswith('.gz') else open)(path, 'rb').read()
    raise SystemExit(f'pack-compare: {source}: no {name}[.gz]')
for prefix, limit in (('train', count), ('t10k', None)):
    for kind, rank in (('images', 3), ('labels', 1)):
        name = f'{prefix}-{kind}-idx{rank}-ubyte'
        data = read(name)
        shape = list(struct.unpack('>' + 'I' * rank, data[4:4 + 4 * rank]))
        keep = shape[0] if limit is None else min(limit, shape[0])
        item = 1
        for size in shape[1:]:
            item *= size
        header = data[:4] + struct.pack('>' + 'I' * rank, keep, *shape[1:])
        body = data[4 + 4 * rank:4 + 4 * rank + keep * item]
        with gzip.open(os.path.join(target, name + '.gz'), 'wb', compresslevel=9) as handle:
            handle.write(header + body)
PY
du -sh "$pack"
ls -la "$pack" "$pack/data"
