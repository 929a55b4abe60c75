#!/usr/bin/env bash
# Set-up for a fresh machine: a WebGPU adapter Dawn can use, Chromium for the browser tests, Node dependencies,
# the build.
#
# Dawn (npm `webgpu`) needs a Vulkan driver on Linux. Machines without a GPU get Mesa's software
# rasteriser lavapipe; Dawn needs Mesa >= 25 (Debian 12's own 22.3 lacks features Dawn requires), which
# Debian 12 ships in bookworm-backports. Idempotent; needs root only when something must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^[0-9]+://; s/[^0-9.].*$//' || true; }
mesa_ok() { local v; v=$(mesa_version); [ -n "$v" ] && [ "${v%%.*}" -ge 25 ]; }
# A GPU vendor's Vulkan driver (anything but Mesa's lavapipe) also serves Dawn.
gpu_icd() { ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null | grep -v -E 'lvp|lavapipe|^$' | grep -q json; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    die "$1
  Run this set-up as root (sudo npm run setup), or install it yourself:
$2"
  fi
}

install_vulkan_linux() {
  if mesa_ok || gpu_icd; then
    say "Vulkan driver present ($(mesa_ok && echo "Mesa lavapipe $(mesa_version)" || echo 'GPU vendor driver'))"
    return
  fi
  [ -r /etc/os-release ] && . /etc/os-release
  local id="${ID:-unknown}" codename="${VERSION_CODENAME:-}"
  if [ "$id" = debian ] && [ "$codename" = bookworm ]; then
    need_root "Mesa lavapipe >= 25 is missing (Debian 12 has $(mesa_version || echo none))." \
"    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
    apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1"
    local src=/etc/apt/sources.list.d/debian.sources dst=/etc/apt/sources.list.d/backports.sources
    if [ ! -f "$dst" ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      if [ -f "$src" ]; then
        # reuse the mirror this machine already uses; only the suite changes
        awk 'BEGIN{RS=""; ORS="\n\n"} /Suites:[^\n]*bookworm-updates/' "$src" | sed -e 's/^Suites:.*/Suites: bookworm-backports/' > "$dst"
      fi
      [ -s "$dst" ] || echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
      [ -s "$dst" ] || rm -f "$dst"
    fi
    say "installing Mesa lavapipe from bookworm-backports"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  elif [ "$id" = debian ] || [ "$id" = ubuntu ] || [[ "${ID_LIKE:-}" == *debian* ]]; then
    need_root "No Vulkan driver found." "    apt-get update && apt-get install -y mesa-vulkan-drivers libvulkan1   (Mesa >= 25 needed for lavapipe)"
    say "installing mesa-vulkan-drivers"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    die "No Vulkan driver found and this is not a Debian/Ubuntu system ($id). Install your GPU's Vulkan driver, or Mesa >= 25 with lavapipe (package usually called mesa-vulkan-drivers or vulkan-swrast), and libvulkan1 / vulkan-loader."
  fi
  say "installed mesa-vulkan-drivers $(mesa_version)"
  mesa_ok || gpu_icd || say "warning: Mesa $(mesa_version) may be too old for Dawn (needs >= 25)"
}

# The browser tests (test/browser) drive Debian's Chromium headless through playwright-core (no browser is ever
# downloaded); its WebGPU runs on SwiftShader, so no GPU is needed. Missing Chromium only costs those tests.
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
chromium_help="  Install Chromium (Debian: apt-get install -y chromium) or point CHROMIUM_PATH at a Chromium/Chrome >= 113 binary;
  without it the browser tests are skipped (and fail under CI=true)."

install_chromium_linux() {
  if [ -x "$CHROMIUM" ]; then
    say "Chromium present ($("$CHROMIUM" --version 2>/dev/null | head -n1 || echo "$CHROMIUM"))"
    return
  fi
  [ -r /etc/os-release ] && . /etc/os-release
  local id="${ID:-unknown}"
  if [ "$id" != debian ]; then
    say "warning: no Chromium at $CHROMIUM and this is not Debian ($id; Ubuntu's chromium package is a snap).
$chromium_help"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    say "warning: no Chromium at $CHROMIUM; as root run: apt-get update && apt-get install -y chromium
$chromium_help"
    return
  fi
  say "installing Debian's chromium (browser tests)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  say "installed $(chromium --version 2>/dev/null | head -n1)"
}

command -v node >/dev/null || die "Node.js >= 20 is required (https://nodejs.org, or apt-get install nodejs npm)."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)."

# The subgroup-matrix suite needs an adapter with cooperative matrices. Without a GPU that has them, Linux can get
# Mesa 26 lavapipe in a small Debian 13 root (scripts/subgroup-matrix-env.sh; ~30 s, ~700 MB; needs root). Opt-in
# (GELAN_SGMAT_ENV=1; CI turns it on): running and testing need none of it, the suite is then skipped, saying why.
install_sgmat_env_linux() {
  if [ "${GELAN_SGMAT_ENV:-0}" != 1 ]; then
    say "no subgroup-matrix root (opt-in, ~700 MB: GELAN_SGMAT_ENV=1 npm run setup as root); the subgroup-matrix suite runs only on an adapter that has them"
    return
  fi
  if [ "$(id -u)" -ne 0 ] || [ "$(uname -m)" != x86_64 ]; then
    say "warning: GELAN_SGMAT_ENV=1 but the subgroup-matrix root needs root on x86_64: not built"
    return
  fi
  bash scripts/subgroup-matrix-env.sh build || say "warning: the subgroup-matrix root could not be built (see above)"
}

case "$(uname -s)" in
  Linux) install_vulkan_linux; install_chromium_linux; install_sgmat_env_linux ;;
  Darwin) say "macOS: Dawn uses Metal, nothing to install; browser tests: set CHROMIUM_PATH to Chrome or Chromium" ;;
  MINGW* | MSYS* | CYGWIN*) say "Windows: Dawn uses Direct3D 12 or Vulkan, nothing to install; browser tests: set CHROMIUM_PATH to Chrome or Chromium" ;;
  *) say "unknown OS $(uname -s): Dawn needs a Vulkan, Metal or D3D12 driver" ;;
esac

# onnxruntime-node (tests only) bundles its CPU binaries; its install script would fetch CUDA ones from outside npm
export ONNXRUNTIME_NODE_INSTALL=skip
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
npm run --silent build
say "done: try 'npm start' (main job) and 'npm test'"
