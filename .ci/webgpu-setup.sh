#!/usr/bin/env bash
# Prepares the WebGPU test lane on a machine without a GPU: Mesa's software Vulkan driver (lavapipe)
# from Debian bookworm-backports, plus the Vulkan loader and any library lavapipe needs that the
# system lacks, unpacked into .cache/webgpu/ (git-ignored). Dawn (the `webgpu` npm package, a root dev
# dependency) needs Mesa >= 25: bookworm's own lavapipe (22.3) is rejected for missing features.
#
# Nothing is installed into the system and the system's apt configuration is not changed: apt runs
# with its own sources list and package lists under the cache folder, and the .deb files are only
# unpacked (dpkg-deb -x). Idempotent: a complete cache is reused.
#
# Prints the environment the lane needs, as shell assignments, on its last lines; use it as
#   eval "$(bash .ci/webgpu-setup.sh)"
# (`--download-only` prepares the cache and prints nothing on stdout.)
# Progress goes to stderr. Any failure stops the script with a message (set -e plus checks).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir="$(pwd)"
cache="$root_dir/.cache/webgpu"
unpacked="$cache/root"
library_dir="$unpacked/usr/lib/x86_64-linux-gnu"
icd_file="$cache/lvp_icd.json"
# The Mesa release checked with Dawn 0.6.2: its lavapipe passes the model suite within 2e-5 of cpu.
mesa_version="25.0.7-2~bpo12+1"

say() { echo "webgpu-setup: $*" >&2; }
die() {
  echo "webgpu-setup: FAILED: $*" >&2
  exit 1
}

if [ "$(uname -m)" != x86_64 ]; then die "only x86_64 Linux is prepared here (found $(uname -m))"; fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  die "needs Debian's apt-get and dpkg-deb (a Debian 12 machine, as CI's)"
fi

apt_options=(
  -o "Dir::Etc::SourceList=$cache/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$cache/apt/lists"
  -o "Dir::Cache=$cache/apt/cache"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
)

if [ -f "$cache/complete" ] && [ -f "$library_dir/libvulkan_lvp.so" ] && [ -f "$icd_file" ]; then
  say "reusing $cache"
else
  say "downloading Mesa $mesa_version (lavapipe) from bookworm-backports into $cache"
  rm -rf "$cache"
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs" "$unpacked"
  cat >"$cache/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm-backports main
deb http://deb.debian.org/debian bookworm main
EOF
  apt-get "${apt_options[@]}" -qq update >&2 || die "apt-get update with $cache/sources.list failed"
  # What installing Mesa from backports would add or upgrade on this system: exactly the libraries it
  # lacks (a simulation against the system's package database; nothing is installed). Its libdrm must
  # come from backports too (it needs >= 2.4.121; bookworm has 2.4.114).
  mapfile -t packages < <(
    apt-get "${apt_options[@]}" -s -qq install --no-install-recommends "mesa-vulkan-drivers=$mesa_version" \
      libvulkan1 libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports 2>&1 |
      awk '$1 == "Inst" { version = $3; if (version ~ /^\[/) version = $4; gsub(/[()]/, "", version); print $2 "=" version }'
  )
  if [ "${#packages[@]}" -eq 0 ]; then
    die "apt found nothing to fetch for mesa-vulkan-drivers=$mesa_version (is it still in bookworm-backports?)"
  fi
  say "fetching ${packages[*]}"
  (cd "$cache/debs" && apt-get "${apt_options[@]}" -qq download "${packages[@]}" >&2) ||
    die "apt-get download ${packages[*]} failed"
  for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$unpacked"; done
  [ -f "$library_dir/libvulkan_lvp.so" ] || die "libvulkan_lvp.so is missing after unpacking mesa-vulkan-drivers"
  # the packaged ICD names its library without a path; point it at the unpacked copy
  sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$library_dir/libvulkan_lvp.so\"#" \
    "$unpacked/usr/share/vulkan/icd.d/lvp_icd.json" >"$icd_file"
  touch "$cache/complete"
fi

# The unpacked libraries come first; the system's own loader is used when it has one.
export LD_LIBRARY_PATH="$library_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VK_ICD_FILENAMES="$icd_file"
missing="$(ldd "$library_dir/libvulkan_lvp.so" | awk '/not found/ { print $1 }')"
[ -z "$missing" ] || die "lavapipe still lacks libraries: $missing"
if ! ldconfig -p | grep -q 'libvulkan.so.1 ' && [ ! -f "$library_dir/libvulkan.so.1" ]; then
  die "no Vulkan loader (libvulkan.so.1) on the system nor in $library_dir"
fi

# --download-only: prepare the cache only (CI calls it before `pnpm install` has put Dawn in place).
if [ "${1:-}" = --download-only ]; then
  say "driver ready in $cache"
  exit 0
fi

# Check that Dawn finds the adapter.
say "checking that Dawn (npm package webgpu) finds lavapipe"
node --input-type=module -e "
  const { create } = await import('webgpu');
  const adapter = await create([]).requestAdapter();
  if (!adapter) { console.error('webgpu-setup: FAILED: Dawn found no adapter with VK_ICD_FILENAMES=' + process.env.VK_ICD_FILENAMES); process.exit(1); }
  console.error('webgpu-setup: adapter ' + [adapter.info.vendor, adapter.info.architecture, adapter.info.description].filter(Boolean).join(' / '));
" 2>&1 | grep -v 'artificially reduced' >&2 || true
node --input-type=module -e "
  const { create } = await import('webgpu');
  process.exit((await create([]).requestAdapter()) ? 0 : 1);
" 2>/dev/null || die "Dawn found no WebGPU adapter (is the webgpu npm package installed? run pnpm install first)"

# shader cache: lavapipe compiles every pipeline; a warm cache saves ~60% of a short run
mkdir -p "$cache/shader-cache"
printf 'export LD_LIBRARY_PATH=%q\n' "$LD_LIBRARY_PATH"
printf 'export VK_ICD_FILENAMES=%q\n' "$VK_ICD_FILENAMES"
printf 'export MESA_SHADER_CACHE_DIR=%q\n' "$cache/shader-cache"
