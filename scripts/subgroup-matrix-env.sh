#!/usr/bin/env bash
# An adapter with subgroup matrices for the subgroup-matrix tests on machines without one.
#
# Mesa's lavapipe exposes VK_KHR_cooperative_matrix from Mesa 26 on (with AVX2), and Dawn then offers
# chromium-experimental-subgroup-matrix. Debian 12's newest Mesa is 25.0 (bookworm-backports), so this builds a
# small Debian 13 root (debootstrap, ~700 MB) holding Mesa from trixie-backports and runs commands in it with
# chroot, this checkout bind-mounted at the same path and this machine's node binary. Needs root and a Debian
# mirror. A machine whose own adapter has subgroup matrices needs none of this: run the tests directly.
#
#   scripts/subgroup-matrix-env.sh build         create or update the root (idempotent)
#   scripts/subgroup-matrix-env.sh run CMD...    run CMD in it, in this checkout
#   scripts/subgroup-matrix-env.sh check         exit 0 when the root is usable (no output)
set -euo pipefail
ROOT="${GELAN_SGMAT_ROOT:-/var/cache/gelan-webgpu/trixie-sgmat}"
MIRROR="${GELAN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
say() { printf '[subgroup-matrix-env] %s\n' "$*" >&2; }

mesa_in_root() { chroot "$ROOT" dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }

build() {
  [ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap and chroot)"; return 1; }
  grep -qw avx2 /proc/cpuinfo || { say "this CPU has no AVX2: lavapipe offers cooperative matrices only with 8-wide vectors"; return 1; }
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    say "debootstrap trixie into $ROOT"
    mkdir -p "$ROOT"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || { say "debootstrap failed; see $ROOT.log"; return 1; }
  fi
  local v
  v=$(mesa_in_root)
  if [ "${v%%.*}" != "" ] && [ "${v%%.*}" -ge 26 ] 2>/dev/null; then
    say "Mesa $v present"
  else
    echo "deb $MIRROR trixie-backports main" >"$ROOT/etc/apt/sources.list.d/backports.list"
    say "installing Mesa lavapipe from trixie-backports"
    chroot "$ROOT" apt-get update -qq
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t trixie-backports mesa-vulkan-drivers libvulkan1 >/dev/null
    say "Mesa $(mesa_in_root) installed"
  fi
  install -m 0755 "$(readlink -f "$(command -v node)")" "$ROOT/usr/local/bin/node"
}

check() { [ -x "$ROOT/usr/local/bin/node" ] && [ -n "$(mesa_in_root)" ]; }

# Unmount whatever is mounted under the root (deepest first): this run's mounts, or a killed run's.
unmount_all() {
  local m
  # a mount can be stacked (a killed run's under this one's): repeat until none is left
  for _ in $(seq 64); do
    local left
    left=$(findmnt -n -l -o TARGET | awk -v r="$ROOT/" 'index($0, r) == 1' | sort -r -u)
    [ -z "$left" ] && return 0
    while read -r m; do umount -l "$m" 2>/dev/null || true; done <<<"$left"
  done
}

run() {
  check || { say "no root at $ROOT: run '$0 build' first"; return 1; }
  # one run at a time: a finishing run unmounts /proc and /dev under a run still going
  exec 9>"$ROOT.lock"
  flock 9
  unmount_all
  trap unmount_all EXIT
  install -m 0755 "$(readlink -f "$(command -v node)")" "$ROOT/usr/local/bin/node"
  mkdir -p "$ROOT$REPO" "$ROOT/proc" "$ROOT/dev" "$ROOT/tmp"
  mount --bind "$REPO" "$ROOT$REPO"
  mount -t proc proc "$ROOT/proc"
  mount --bind /dev "$ROOT/dev"
  local q rc=0
  q=$(printf '%q ' "$@")
  chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin CI="${CI:-}" TERM="${TERM:-dumb}" \
    /bin/bash -c "cd $(printf '%q' "$REPO") && $q" || rc=$?
  unmount_all
  return "$rc"
}

case "${1:-}" in
  build) build ;;
  check) check ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 build | check | run CMD..." >&2; exit 2 ;;
esac
